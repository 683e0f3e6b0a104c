"""Card payments from outside, through real servers (on PostgreSQL two on one store), the SDK
talking to a local stand-in of Stripe: each buyer asks for their PaymentIntent on either
server (one intent each), each success is delivered three times at once across the servers,
and a forged one beside them. Afterwards the store itself is read: every hold confirmed once,
no payment applied twice, and the books balance."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest

from application import BookingLedger
from application.audit.money_audit import MoneyAudit
from application.payments.books import MoneyBooks
from scripts.harness.processes import call, gunicorn
from scripts.harness.stripe_standin import StripeStandIn, signed

TOKEN = "stripe-servers-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "whsec_servers"
EVENT = {
    "eventId": "card-gala",
    "name": "Card gala",
    "tiers": [{"tier": "CARD", "price": "45.50", "capacity": 4}],
    "payment": {"currency": "EUR", "secondsToPay": 600},
}


def webhook(base: str, payload: bytes, secret: str = SECRET) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": signed(payload, secret)}
    request = urllib.request.Request(f"{base}/api/payments/stripe/webhook", data=payload, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.mark.slow
def test_card_payments_through_servers_confirm_each_hold_once(store_env, tmp_path):
    standin = StripeStandIn().start()
    env = {**store_env, "PROJECT_IN_PROCESS": "yes", "DEMO_TIERS": "", "ADMIN_TOKEN": TOKEN}
    env |= {"BOOKING_RATE_LIMIT": "", "ADMIN_AUTH_RATE_LIMIT": ""}
    env |= {"STRIPE_SECRET_KEY": "sk_test_servers", "STRIPE_WEBHOOK_SECRET": SECRET, "STRIPE_API_BASE": standin.url}
    servers = 2 if store_env["PERSISTENCE_MODULE"] == "eventsourcing.postgres" else 1
    try:
        with ExitStack() as stack:
            logs = [stack.enter_context(open(tmp_path / f"{n}.log", "w")) for n in range(servers)]
            bases = [stack.enter_context(gunicorn(env, log))[0] for log in logs]
            assert call(f"{bases[0]}/api/admin/events", EVENT, ADMIN).status == 201
            holds = []
            for n in range(4):
                body = {"userId": f"buyer-{n}", "tier": "CARD", "quantity": 1}
                holds.append(call(f"{bases[n % servers]}/api/tickets/hold", body).body["holdId"])

            def intent(n: int) -> str:
                reply = call(f"{bases[n % servers]}/api/bookings/{holds[n % 4]}/payment/card", {})
                assert reply.status == 200, reply.body
                return reply.body["intentId"]

            with ThreadPoolExecutor(8) as pool:
                intents = list(pool.map(intent, range(8)))  # each buyer twice, on either server
            assert intents[:4] == intents[4:] and len(set(intents)) == 4

            events = [standin.event(intent_id) for intent_id in intents[:4]]
            deliveries = [(events[n % 4], bases[n % servers]) for n in range(12)]  # each 3×
            with ThreadPoolExecutor(12) as pool:
                forged = pool.submit(webhook, bases[-1], events[0], "whsec_forger")
                answers = list(pool.map(lambda d: webhook(d[1], d[0]), deliveries))
            assert forged.result()[0] == 400
            assert {status for status, _ in answers} == {200}, answers
            matches = sorted(answer["match"] for _, answer in answers)
            assert matches == ["applied"] * 8 + ["paid"] * 4
            for n, hold_id in enumerate(holds):
                assert call(f"{bases[n % servers]}/api/bookings/{hold_id}").body["status"] == "confirmed"
            assert call(f"{bases[0]}/api/admin/payments/books", headers=ADMIN).body["balanced"]
    finally:
        standin.stop()

    with BookingLedger(env=store_env) as ledger:
        tier = ledger.get_tier("CARD")
        (money,) = MoneyBooks(ledger).money_per_event()
        assert MoneyAudit(ledger).verify() == []
    assert (tier.sold, tier.held) == (4, 0)
    assert (money.received, money.paid_bookings) == (4 * 4550, 4)
