"""User ids over HTTP, on both stores: a new one follows the rule (``web.identity.user_ids``), every
accepted one can list its own bookings, and bookings recorded under ids from before the
rule stay readable and cancellable by their users."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from hypothesis import HealthCheck, example, given, settings

from tests.e2e.conftest import make_app
from tests.e2e.test_api import error_code
from tests.unit.test_user_ids import USER_IDS
from web.identity.user_ids import problem


def bookings_of(client, user_id: str) -> list[dict]:
    response = client.get(f"/api/users/{quote(user_id, safe='')}/bookings")
    assert response.status_code == 200
    return response.json


def test_any_user_id_is_refused_with_400_or_booked_and_its_bookings_listed(store_env):
    app = make_app(store_env, DEMO_TIERS="GA:1.00:100000")
    client = app.test_client()

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(USER_IDS)
    @example("a/b")
    @example("..")
    @example("\u202eecila")
    @example("Zoe\u0308")
    def books_or_refuses(user_id):
        response = client.post("/api/tickets/book", json={"userId": user_id, "tier": "GA", "quantity": 1})
        if problem(user_id):
            assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")
            assert [d["path"] for d in response.json["error"]["details"]] == ["userId"]
            return
        assert response.status_code == 201
        booking_id = response.json["bookingId"]
        assert client.get(f"/api/bookings/{booking_id}").json["userId"] == unicodedata.normalize("NFC", user_id)
        assert booking_id in [b["bookingId"] for b in bookings_of(client, user_id)]

    try:
        books_or_refuses()
    finally:
        app.extensions["services"].close()


def test_bookings_under_ids_from_before_the_rule_stay_readable_and_their_own(app, client):
    ledger = app.extensions["services"].ledger
    odd = ledger.book("\u202eecila", "GA", 1).booking_id  # recorded before the rule
    decomposed = ledger.book("Zoe\u0308", "GA", 1).booking_id
    app.extensions["services"].written()
    assert [b["bookingId"] for b in bookings_of(client, "\u202eecila")] == [str(odd)]
    composed = client.post("/api/tickets/book", json={"userId": "Zoe\u0308", "tier": "GA", "quantity": 2})
    assert client.get(f"/api/bookings/{composed.json['bookingId']}").json["userId"] == "Zoë"
    for form in ("Zoe\u0308", "Zoë"):
        assert [b["bookingId"] for b in bookings_of(client, form)] == [composed.json["bookingId"], str(decomposed)]
    assert client.post(f"/api/bookings/{odd}/cancel", json={"userId": "\u202eecila"}).json["status"] == "cancelled"
    assert client.post(f"/api/bookings/{decomposed}/cancel", json={"userId": "Zoë"}).json["status"] == "cancelled"
