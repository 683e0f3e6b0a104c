"""Holds over HTTP, on both stores: place, confirm, release, expire (by the expiry
process with a moved clock), the errors of each, and cancel's Idempotency-Key."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import book, make_app
from tests.e2e.test_api import error_code


def hold(client, user: str = "u1", tier: str = "VIP", quantity: int = 2, key: str | None = None):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/api/tickets/hold", json={"userId": user, "tier": tier, "quantity": quantity}, headers=headers)


def end(client, hold_id: str, how: str, user: str = "u1"):
    return client.post(f"/api/holds/{hold_id}/{how}", json={"userId": user})


def vip_available(client) -> int:
    return next(t["availableQuantity"] for t in client.get("/api/tickets").json if t["tier"] == "VIP")


def test_a_hold_takes_tickets_out_of_availability_until_it_is_confirmed(client):
    placed = hold(client)
    assert placed.status_code == 201
    body = placed.json
    left = datetime.fromisoformat(body["expiresAt"]) - datetime.now(UTC)
    assert timedelta(minutes=9, seconds=50) < left <= timedelta(minutes=10)  # HOLD_SECONDS' default
    assert {k: body[k] for k in ("tier", "heldQuantity", "remainingQuantity", "status")} == {
        "tier": "VIP",
        "heldQuantity": 2,
        "remainingQuantity": 3,
        "status": "held",
    }
    assert vip_available(client) == 3
    booking = client.get(f"/api/bookings/{body['holdId']}").json
    assert (booking["status"], booking["expiresAt"]) == ("held", body["expiresAt"])

    confirmed = end(client, body["holdId"], "confirm")
    assert (confirmed.status_code, confirmed.json["status"], confirmed.json["bookingId"]) == (
        200,
        "confirmed",
        body["holdId"],
    )
    assert end(client, body["holdId"], "confirm").json == confirmed.json  # a retry: the same answer
    assert vip_available(client) == 3
    assert [b["status"] for b in client.get("/api/users/u1/bookings").json] == ["confirmed"]


def test_a_released_hold_gives_its_tickets_back(client):
    hold_id = hold(client, quantity=5).json["holdId"]
    assert error_code(book(client, user="u2")) == "INSUFFICIENT_TICKETS"
    released = end(client, hold_id, "release")
    assert (released.status_code, released.json["status"]) == (200, "released")
    assert vip_available(client) == 5 and book(client, user="u2").status_code == 201
    refused = end(client, hold_id, "confirm")
    assert (refused.status_code, error_code(refused)) == (409, "HOLD_NOT_ACTIVE")


def test_the_expiry_process_ends_a_hold_on_time_and_a_late_confirm_is_refused(app, client):
    services = app.extensions["services"]
    hold_id = hold(client).json["holdId"]
    real = services.ledger.clock
    services.ledger.clock = lambda: real() + timedelta(minutes=10, seconds=1)
    late = end(client, hold_id, "confirm")
    assert (late.status_code, error_code(late)) == (409, "HOLD_EXPIRED")
    assert services.expiry.expire_due() == 1
    assert client.get(f"/api/bookings/{hold_id}").json["status"] == "expired"
    assert vip_available(client) == 5
    assert error_code(end(client, hold_id, "release")) == "HOLD_EXPIRED"


@pytest.mark.parametrize("how", ["confirm", "release"])
def test_only_the_holder_ends_a_hold_and_unknown_holds_are_404(client, how):
    hold_id = hold(client).json["holdId"]
    stranger = end(client, hold_id, how, user="u2")
    assert (stranger.status_code, error_code(stranger)) == (404, "BOOKING_NOT_FOUND")
    assert error_code(end(client, "not-a-uuid", how)) == "BOOKING_NOT_FOUND"
    assert end(client, "00000000-0000-4000-8000-000000000000", how).status_code == 404
    assert client.get(f"/api/bookings/{hold_id}").json["status"] == "held"


def test_a_hold_is_not_cancelled_and_a_key_names_one_hold(client):
    first = hold(client, key="cart-7")
    again = hold(client, key="cart-7")
    assert (first.status_code, again.status_code, again.json["holdId"]) == (201, 201, first.json["holdId"])
    assert vip_available(client) == 3
    assert error_code(hold(client, quantity=1, key="cart-7")) == "IDEMPOTENCY_KEY_REUSED"
    cancelled = client.post(f"/api/bookings/{first.json['holdId']}/cancel", json={"userId": "u1"})
    assert (cancelled.status_code, error_code(cancelled)) == (409, "BOOKING_NOT_CONFIRMED")


def test_a_cancellation_retried_with_its_key_gets_the_same_answer(client):
    booking_id = book(client, quantity=2).json["bookingId"]

    def cancel(key: str):
        return client.post(
            f"/api/bookings/{booking_id}/cancel", json={"userId": "u1"}, headers={"Idempotency-Key": key}
        )

    first = cancel("undo-1")
    assert [cancel("undo-1").json for _ in range(3)] == [first.json] * 3 and first.status_code == 200
    other = cancel("undo-2")
    assert (other.status_code, error_code(other)) == (409, "BOOKING_ALREADY_CANCELLED")
    assert vip_available(client) == 5


def test_the_web_process_expires_holds_by_itself_where_it_projects(store_env):
    """No request is needed: the expiry thread ends the hold and updates the read tables."""
    app = make_app({**store_env, "HOLD_SECONDS": "0.3"}, EXPIRE_HOLDS_IN_PROCESS="yes")
    client = app.test_client()
    hold_id = hold(client).json["holdId"]
    deadline = time.monotonic() + 5
    while vip_available(client) != 5:  # the read tables' word: the hold ended and they know it
        assert time.monotonic() < deadline, "the hold did not expire, or the read tables never heard"
        time.sleep(0.05)
    assert client.get(f"/api/bookings/{hold_id}").json["status"] == "expired"
    app.extensions["services"].close()
