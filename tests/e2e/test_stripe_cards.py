"""Card payments through Stripe, on both stores: the official SDK talks to a local stand-in
of Stripe's API (``STRIPE_API_BASE``), and the webhooks are signed by the SDK's own signer.
A held booking gets one PaymentIntent however often it asks (one idempotency key); only a
signed ``payment_intent.succeeded`` confirms it, once however often delivered, in any order;
late, it is received and refunded through the API; a cancelled card booking is refunded
through the API with its idempotency key. Without a key, nothing of this exists."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from flask import Flask

from scripts.harness.stripe_standin import StripeStandIn, signed
from tests.e2e.conftest import ADMIN_TOKEN, make_app

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SECRET = "whsec_standin_secret"
WEBHOOK = "/api/payments/stripe/webhook"
EVENT = {
    "eventId": "gala-2027",
    "name": "Gala",
    "tiers": [{"tier": "GALA", "price": "45.50", "capacity": 4}],
    "payment": {"currency": "EUR", "secondsToPay": 900, "refundPercent": 50},
}


@pytest.fixture
def standin() -> Iterator[StripeStandIn]:
    standin = StripeStandIn().start()
    yield standin
    standin.stop()


@pytest.fixture
def app(store_env, standin) -> Iterator[Flask]:
    app = make_app(
        store_env,
        ADMIN_TOKEN=ADMIN_TOKEN,
        STRIPE_SECRET_KEY="sk_test_standin",
        STRIPE_WEBHOOK_SECRET=SECRET,
        STRIPE_API_BASE=standin.url,
    )
    assert app.test_client().post("/api/admin/events", json=EVENT, headers=ADMIN).status_code == 201
    yield app
    app.extensions["services"].close()


def held(client) -> tuple[str, dict]:
    """A held booking of 2 GALA tickets and its PaymentIntent."""
    answer = client.post("/api/tickets/hold", json={"userId": "alice", "tier": "GALA", "quantity": 2})
    assert answer.status_code == 201, answer.json
    hold_id = answer.json["holdId"]
    intent = client.post(f"/api/bookings/{hold_id}/payment/card")
    assert intent.status_code == 200, intent.json
    return hold_id, intent.json


def deliver(client, payload: bytes, secret: str = SECRET):
    headers = {"Stripe-Signature": signed(payload, secret)}
    return client.post(WEBHOOK, data=payload, headers=headers, content_type="application/json; charset=utf-8")


def money(client, hold_id: str) -> dict:
    return client.get(f"/api/bookings/{hold_id}/payment").json


def test_a_signed_succeeded_event_confirms_the_booking_and_one_intent_serves_every_retry(app, standin):
    client = app.test_client()
    hold_id, intent = held(client)
    assert (intent["amountDue"], intent["currency"], intent["clientSecret"]) == (9100, "EUR", "pi_standin1_secret_x")
    again = client.post(f"/api/bookings/{hold_id}/payment/card").json
    assert again["intentId"] == intent["intentId"]
    created = standin.seen("/v1/payment_intents")
    assert [r.idempotency_key for r in created] == [f"payment-intent:{intent['paymentId']}"] * 2
    assert (created[0].params["amount"], created[0].params["currency"]) == ("9100", "eur")
    assert created[0].params["metadata[payment_id]"] == intent["paymentId"]
    assert client.get(f"/api/bookings/{hold_id}").json["status"] == "held"  # the page paying confirms nothing
    answer = deliver(client, standin.event(intent["intentId"]))
    assert (answer.status_code, answer.json) == (200, {"match": "paid"})
    assert client.get(f"/api/bookings/{hold_id}").json["status"] == "confirmed"
    assert money(client, hold_id)["received"] == 9100
    assert client.post(f"/api/bookings/{hold_id}/payment/card").json["error"]["code"] == "INVALID_PAYMENT"


def test_one_checkout_session_serves_every_retry_and_its_intent_is_confirmed_by_the_same_webhook(app, standin):
    client = app.test_client()
    answer = client.post("/api/tickets/hold", json={"userId": "alice", "tier": "GALA", "quantity": 2})
    hold_id = answer.json["holdId"]
    assert client.get(f"/api/bookings/{hold_id}/payment").json["card"] is True
    session = client.post(f"/api/bookings/{hold_id}/payment/checkout")
    assert session.status_code == 200, session.json
    assert session.json["url"] == f"{standin.url}/checkout/{session.json['sessionId']}"
    assert client.post(f"/api/bookings/{hold_id}/payment/checkout").json == session.json
    created = standin.seen("/v1/checkout/sessions")
    assert [r.idempotency_key for r in created] == [f"checkout-session:{session.json['paymentId']}"] * 2
    params = created[0].params
    assert (params["line_items[0][price_data][unit_amount]"], params["line_items[0][price_data][currency]"]) == (
        "9100",
        "eur",
    )
    assert params["payment_intent_data[metadata][payment_id]"] == session.json["paymentId"]
    assert params["success_url"] == "http://localhost/"
    (intent_id,) = standin.intents
    assert (deliver(client, standin.event(intent_id)).json, money(client, hold_id)["received"]) == (
        {"match": "paid"},
        9100,
    )
    assert client.post(f"/api/bookings/{hold_id}/payment/checkout").json["error"]["code"] == "INVALID_PAYMENT"
    unknown = client.post("/api/bookings/6b0f7c57-4d6e-4c1f-9a51-5f1a2b3c4d5e/payment/checkout")
    assert unknown.json["error"]["code"] == "BOOKING_NOT_FOUND"


def test_a_forged_or_unsigned_event_is_refused_and_records_nothing(app, standin):
    client = app.test_client()
    hold_id, intent = held(client)
    payload = standin.event(intent["intentId"])
    for headers in (
        {"Stripe-Signature": signed(payload, "whsec_someone_else")},
        {"Stripe-Signature": signed(payload.replace(b"9100", b"9101"), SECRET)},  # signed another body
        {},
    ):
        refused = client.post(WEBHOOK, data=payload, headers=headers, content_type="application/json")
        assert (refused.status_code, refused.json["error"]["code"]) == (400, "INVALID_SIGNATURE")
    assert client.get(f"/api/bookings/{hold_id}").json["status"] == "held"
    assert money(client, hold_id)["received"] == 0


def test_the_same_event_three_times_and_other_events_in_any_order_apply_once(app, standin):
    client = app.test_client()
    hold_id, intent = held(client)
    failed = deliver(client, standin.event(intent["intentId"], "payment_intent.payment_failed"))
    assert failed.json == {"match": None}  # a first card declined: nothing recorded
    succeeded = standin.event(intent["intentId"], number=2)
    assert [deliver(client, succeeded).json["match"] for _ in range(3)] == ["paid", "applied", "applied"]
    created = deliver(client, standin.event(intent["intentId"], "payment_intent.created", number=0))
    assert created.json == {"match": None}  # an earlier event arriving last changes nothing
    paid = money(client, hold_id)
    assert (paid["received"], paid["refundRequested"], paid["bookingStatus"]) == (9100, 0, "confirmed")
    books = client.get("/api/admin/payments/books", headers=ADMIN).json
    assert books["balanced"] and books["problems"] == []


def test_a_payment_succeeding_after_the_hold_expired_is_received_and_refunded_through_stripe(app, standin):
    client = app.test_client()
    hold_id, intent = held(client)
    app.extensions["services"].ledger.clock = lambda: datetime.now(UTC) + timedelta(seconds=901)
    succeeded = standin.event(intent["intentId"])
    assert [deliver(client, succeeded).json["match"] for _ in range(2)] == ["late", "applied"]
    (refund,) = standin.seen("/v1/refunds")
    assert refund.params == {"payment_intent": intent["intentId"], "amount": "9100"}
    assert refund.idempotency_key == f"refund:{intent['paymentId']}:9100"
    late = money(client, hold_id)
    assert (late["received"], late["refunded"], late["bookingStatus"]) == (9100, 9100, "held")
    assert client.get("/api/admin/payments/books", headers=ADMIN).json["balanced"]


def test_a_refund_stripe_refused_stays_owed_and_is_sent_with_the_same_key_on_redelivery(app, standin):
    client = app.test_client()
    hold_id, intent = held(client)
    app.extensions["services"].ledger.clock = lambda: datetime.now(UTC) + timedelta(seconds=901)
    standin.refusing_refunds = 1
    succeeded = standin.event(intent["intentId"])
    assert deliver(client, succeeded).json["match"] == "late"
    owed = money(client, hold_id)
    assert (owed["refundRequested"], owed["refunded"]) == (9100, 0)
    assert [p["bookingId"] for p in client.get("/api/admin/payments/books", headers=ADMIN).json["refundsOwed"]] == [
        hold_id
    ]
    assert deliver(client, succeeded).json["match"] == "applied"  # Stripe delivers again
    keys = [refund.idempotency_key for refund in standin.seen("/v1/refunds")]
    assert keys == [f"refund:{intent['paymentId']}:9100"] * 2
    assert money(client, hold_id)["refunded"] == 9100


def test_cancelling_a_card_booking_refunds_it_through_stripe_once(app, standin):
    client = app.test_client()
    hold_id, intent = held(client)
    assert deliver(client, standin.event(intent["intentId"])).json["match"] == "paid"
    cancelled = client.post(f"/api/bookings/{hold_id}/cancel", json={"userId": "alice"})
    assert (cancelled.status_code, cancelled.json["status"]) == (200, "cancelled")
    (refund,) = standin.seen("/v1/refunds")
    assert refund.params == {"payment_intent": intent["intentId"], "amount": "4550"}  # the event's 50 %
    assert refund.idempotency_key == f"refund:{intent['paymentId']}:4550"
    refunded = money(client, hold_id)
    assert (refunded["refundRequested"], refunded["refunded"]) == (4550, 4550)
    app.extensions["services"].cards.refund_cancelled(UUID(hold_id))  # asked again: nothing owed
    assert len(standin.seen("/v1/refunds")) == 1
    books = client.get("/api/admin/payments/books", headers=ADMIN).json
    assert books["balanced"] and books["refundsOwed"] == []


def test_without_a_key_there_are_no_card_endpoints(store_env):
    app = make_app(store_env, ADMIN_TOKEN=ADMIN_TOKEN)
    try:
        client = app.test_client()
        assert client.post(WEBHOOK, data=b"{}", content_type="application/json").status_code == 404
        assert app.extensions["services"].cards is None
        assert WEBHOOK not in client.get("/openapi.json").json["paths"]
        assert "/api/bookings/{booking_id}/payment/checkout" not in client.get("/openapi.json").json["paths"]
    finally:
        app.extensions["services"].close()
