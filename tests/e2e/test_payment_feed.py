"""A paid sale over HTTP as ``GET /api/feed`` shows it, on both stores: the hold, the payment
awaited (amount in minor units, currency, RF reference, deadline), its confirmation with the
money received, the cancellation and the refund sent, once each and in this order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.e2e.conftest import ADMIN_TOKEN, make_app
from tests.e2e.test_integrations_api import FEED_TOKEN, feed
from tests.e2e.test_payments_api import ADMIN, EVENT, hold


@pytest.fixture
def app(store_env) -> Iterator[Flask]:
    app = make_app(store_env, ADMIN_TOKEN=ADMIN_TOKEN, FEED_TOKEN=FEED_TOKEN)
    created = app.test_client().post("/api/admin/events", json=EVENT, headers=ADMIN)
    assert created.status_code == 201, created.json
    yield app
    app.extensions["services"].close()


def test_the_feed_shows_a_paid_sale_from_hold_to_refund_in_order(app):
    client = app.test_client()
    hold_id = hold(client)
    due = client.get(f"/api/bookings/{hold_id}/payment").json
    pay = {"amount": 9100, "currency": "EUR", "method": "cash", "receipt": "till-1"}
    assert client.post(f"/api/admin/payments/{hold_id}/box-office", json=pay, headers=ADMIN).status_code == 200
    assert client.post(f"/api/bookings/{hold_id}/cancel", json={"userId": "alice"}).status_code == 200
    refund = {"amount": 4550, "method": "cash", "providerId": "till-2"}
    assert client.post(f"/api/admin/payments/{hold_id}/refunds", json=refund, headers=ADMIN).status_code == 200
    assert client.post(f"/api/admin/payments/{hold_id}/refunds", json=refund, headers=ADMIN).status_code == 200
    items = [e for e in feed(client)["items"] if e["bookingId"] == hold_id]
    assert [(e["type"], e["amount"], e["currency"]) for e in items] == [
        ("hold.placed", None, None),
        ("payment.awaiting", 9100, "EUR"),
        ("hold.confirmed", None, None),
        ("payment.received", 9100, "EUR"),
        ("booking.cancelled", None, None),
        ("payment.refunded", 4550, "EUR"),  # the refund sent twice (a retry): announced once
    ]
    awaiting = items[1]
    assert (awaiting["reference"], awaiting["expiresAt"]) == (due["reference"], items[0]["expiresAt"])
    assert {e["reference"] for e in items[1::2]} == {due["reference"]}
