"""A paid sale over HTTP, on both stores: an event created with payment terms; its priced
tier refused outright (402), held for the time to pay, paid at the box office or by a bank
statement, cancelled with its refund; the demo's free tier still booked at once (201); the
books balance and export; the staff's endpoints need the admin token."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from stdnum import iso11649

from tests.e2e.conftest import ADMIN_TOKEN, make_app

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
STATEMENTS = Path(__file__).parents[1] / "integration" / "statements"
EVENT = {
    "eventId": "gala-2027",
    "name": "Gala",
    "tiers": [{"tier": "GALA", "price": "45.50", "capacity": 4}, {"tier": "FOYER", "price": "0.00", "capacity": 9}],
    "payment": {"currency": "EUR", "secondsToPay": 900, "refundPercent": 50},
}


@pytest.fixture
def app(store_env) -> Iterator[Flask]:
    app = make_app(store_env, ADMIN_TOKEN=ADMIN_TOKEN, BANK_ACCOUNT_IBAN="DE89370400440532013000")
    created = app.test_client().post("/api/admin/events", json=EVENT, headers=ADMIN)
    assert created.status_code == 201, created.json
    yield app
    app.extensions["services"].close()


def hold(client, user: str = "alice", quantity: int = 2) -> str:
    answer = client.post("/api/tickets/hold", json={"userId": user, "tier": "GALA", "quantity": quantity})
    assert answer.status_code == 201, answer.json
    return answer.json["holdId"]


def counted(answer: dict) -> dict[str, int]:
    return {name: n for name, n in answer["counts"].items() if n}


def test_free_tiers_and_the_demo_event_are_booked_at_once_as_before(app):
    client = app.test_client()
    for tier in ("VIP", "FOYER"):
        answer = client.post("/api/tickets/book", json={"userId": "alice", "tier": tier, "quantity": 1})
        assert (answer.status_code, answer.json["status"]) == (201, "confirmed")


def test_a_paid_tier_is_refused_outright_and_its_hold_says_how_to_pay(app):
    client = app.test_client()
    refused = client.post("/api/tickets/book", json={"userId": "alice", "tier": "GALA", "quantity": 1})
    assert (refused.status_code, refused.json["error"]["code"]) == (402, "PAYMENT_REQUIRED")
    ordered = client.post("/api/orders", json={"userId": "alice", "items": [{"tier": "GALA", "quantity": 1}]})
    assert ordered.status_code == 402
    hold_id = hold(client)
    confirm = client.post(f"/api/holds/{hold_id}/confirm", json={"userId": "alice"})
    assert (confirm.status_code, confirm.json["error"]["code"]) == (402, "PAYMENT_REQUIRED")
    payment = client.get(f"/api/bookings/{hold_id}/payment").json
    assert (payment["amountDue"], payment["currency"], payment["received"]) == (9100, "EUR", 0)
    assert iso11649.is_valid(payment["reference"])
    assert payment["bank"] == {"accountHolder": None, "iban": "DE89370400440532013000"}
    free = client.post("/api/tickets/book", json={"userId": "alice", "tier": "FOYER", "quantity": 1}).json
    assert client.get(f"/api/bookings/{free['bookingId']}/payment").json["error"]["code"] == "INVALID_PAYMENT"


def test_the_box_office_confirms_the_exact_amount_once_and_refuses_the_rest(app):
    client = app.test_client()
    hold_id = hold(client)
    path = f"/api/admin/payments/{hold_id}/box-office"
    short = {"amount": 9000, "currency": "EUR", "method": "cash", "receipt": "till-1"}
    assert client.post(path, json=short).status_code == 401  # staff only
    refused = client.post(path, json=short, headers=ADMIN)
    assert (refused.status_code, refused.json["error"]["code"]) == (409, "PAYMENT_REFUSED")
    exact = {**short, "amount": 9100}
    for _ in range(2):  # the same receipt twice: once
        paid = client.post(path, json=exact, headers=ADMIN)
        assert (paid.status_code, paid.json["bookingStatus"], paid.json["received"]) == (200, "confirmed", 9100)
    assert client.get(f"/api/bookings/{hold_id}").json["status"] == "confirmed"
    assert client.post(path, json={**exact, "receipt": "till-2"}, headers=ADMIN).status_code == 409  # paid already


def test_a_statement_pays_a_hold_and_importing_it_again_changes_nothing(app):
    client = app.test_client()
    hold_id = hold(client)
    reference = client.get(f"/api/bookings/{hold_id}/payment").json["reference"]
    xml = (STATEMENTS / "iso20022_camt053_001_02.xml").read_text()
    xml = xml.replace("{{AMOUNT_A}}", "91.00").replace("{{REF_A}}", reference)
    xml = xml.replace("{{AMOUNT_B}}", "1.00").replace("{{REF_B}}", "RF18539007547034")
    first = client.post("/api/admin/payments/statements", json={"camt053": xml}, headers=ADMIN)
    assert (first.status_code, counted(first.json)) == (200, {"paid": 1})
    again = client.post("/api/admin/payments/statements", json={"camt053": xml}, headers=ADMIN)
    assert counted(again.json) == {"skipped": 1}
    assert client.get(f"/api/bookings/{hold_id}").json["status"] == "confirmed"
    bad = client.post("/api/admin/payments/statements", json={"camt053": "<nope/>"}, headers=ADMIN)
    assert (bad.status_code, bad.json["error"]["code"]) == (422, "INVALID_PAYMENT")


def test_cancelling_a_paid_booking_owes_its_refund_and_the_books_balance_and_export(app):
    client = app.test_client()
    hold_id = hold(client)
    pay = {"amount": 9100, "currency": "EUR", "method": "card_terminal", "receipt": "t-9"}
    assert client.post(f"/api/admin/payments/{hold_id}/box-office", json=pay, headers=ADMIN).status_code == 200
    cancelled = client.post(f"/api/bookings/{hold_id}/cancel", json={"userId": "alice"})
    assert (cancelled.status_code, cancelled.json["status"]) == (200, "cancelled")
    books = client.get("/api/admin/payments/books", headers=ADMIN).json
    assert books["balanced"] and books["problems"] == []
    (gala,) = books["events"]
    assert (gala["eventId"], gala["received"], gala["refundsOwed"], gala["retained"]) == ("gala-2027", 9100, 4550, 4550)
    assert [owed["bookingId"] for owed in books["refundsOwed"]] == [hold_id]
    refund = {"amount": 4551, "method": "bank_transfer", "providerId": "TRF-1"}
    too_much = client.post(f"/api/admin/payments/{hold_id}/refunds", json=refund, headers=ADMIN)
    assert (too_much.status_code, too_much.json["error"]["code"]) == (422, "INVALID_PAYMENT")
    sent = client.post(f"/api/admin/payments/{hold_id}/refunds", json={**refund, "amount": 4550}, headers=ADMIN)
    assert (sent.status_code, sent.json["refunded"]) == (200, 4550)
    exported = client.get("/api/admin/payments/export/refunds.csv", headers=ADMIN)
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0][-3:] == ["amount", "method", "provider_id"] and rows[1][-3:] == ["4550", "bank_transfer", "TRF-1"]
    payments = list(csv.reader(io.StringIO(client.get("/api/admin/payments/export/payments.csv", headers=ADMIN).text)))
    assert [row[4] for row in payments[1:]] == ["9100"]
    assert client.get("/api/admin/payments/export/secrets.csv", headers=ADMIN).status_code == 404
