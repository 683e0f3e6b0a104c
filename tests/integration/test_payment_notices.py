"""A paid sale as other systems see it, on both stores: its history gives exactly the
booking's and the payment's integration events, in order, in the feed and to a webhook;
the awaiting-payment email carries the amount, reference, deadline and bank account, each
refund sent gets its own email, each email once; a rebuilt outbox is the same byte for byte."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from application import BookingLedger
from application.booking.tiers import NewShow, NewTier
from application.payments.desk import PaymentDesk
from application.payments.references import creditor_reference
from domain.payments import Incoming, PaymentTerms, payment_id
from projections.integrations.emails import EmailSender
from projections.integrations.outbox import Outbox
from projections.integrations.store import IntegrationTables
from projections.integrations.webhooks import WebhookEndpoints
from scripts.bench.webhook_receiver import Receiver
from scripts.harness.processes import wait_for
from tests.integration.clock import START, Clock
from tests.integration.smtp_inbox import smtp_inbox
from tests.integration.test_outbox import everything, wipe
from tests.integration.test_webhooks import FAST, Running

TERMS = PaymentTerms("EUR", seconds_to_pay=900, refund_percent=90)
BANK = {"BANK_ACCOUNT_HOLDER": "Concert Hall Ltd", "BANK_ACCOUNT_IBAN": "DE89370400440532013000"}


@pytest.fixture
def sale(store_env):
    with BookingLedger(env=store_env) as ledger:
        ledger.clock = Clock()
        ledger.create_show(NewShow("gala", "Gala", [NewTier("GALA", Decimal("45.50"), 3)], payment=TERMS))
        outbox = Outbox(ledger, IntegrationTables(ledger))
        outbox.catch_up()  # emails and endpoints start after tier.created
        yield ledger, PaymentDesk(ledger), outbox


def pay_and_refund(ledger: BookingLedger, desk: PaymentDesk) -> str:
    """Alice holds two seats, is asked for 91.00 EUR, pays by bank transfer, cancels (90 %
    owed back: 81.90 EUR) and is refunded in two transfers; return the booking id."""
    hold = ledger.hold("alice", "GALA", 2)
    desk.open(hold.booking_id, "alice")
    reference = creditor_reference(hold.booking_id)
    desk.receive(payment_id(reference), Incoming(9100, "EUR", "bank_transfer", "bank-1"))
    desk.cancel(hold.booking_id, "alice")
    desk.refunded(hold.booking_id, 5000, "bank_transfer", "refund-1")
    desk.refunded(hold.booking_id, 3190, "bank_transfer", "refund-2")
    return str(hold.booking_id)


EXPECTED = [  # (type, amount): the booking's story as the outside sees it
    ("hold.placed", None),
    ("payment.awaiting", 9100),
    ("hold.confirmed", None),
    ("payment.received", 9100),
    ("booking.cancelled", None),
    ("payment.refunded", 5000),
    ("payment.refunded", 3190),
]


def test_a_paid_sale_gives_exactly_its_events_in_order_and_a_rebuild_gives_them_again(sale):
    ledger, desk, outbox = sale
    booking_id = pay_and_refund(ledger, desk)
    outbox.catch_up()
    events = [json.loads(e.body) for e in outbox.tables.notices_after(0, 100)]
    events = [e for e in events if e["type"] != "tier.created"]
    assert [(e["type"], e["amount"]) for e in events] == EXPECTED
    assert {(e["bookingId"], e["userId"], e["tier"]) for e in events} == {(booking_id, "alice", "GALA")}
    money = [e for e in events if e["type"].startswith("payment.")]
    reference = creditor_reference(UUID(booking_id))
    assert {(e["currency"], e["reference"]) for e in money} == {("EUR", reference)}
    awaiting = money[0]
    assert awaiting["expiresAt"] == (START + timedelta(seconds=TERMS.seconds_to_pay)).isoformat()
    assert [e["expiresAt"] for e in money[1:]] == [None] * 3
    others = [e for e in events if not e["type"].startswith("payment.")]
    assert {(e["amount"], e["currency"], e["reference"]) for e in others} == {(None, None, None)}
    assert [e["availableQuantity"] for e in events] == [1, 1, 1, 1, 3, 3, 3]
    first = everything(outbox.tables)
    for batch_size in (1, 2):  # a refund's page without the payment's opening reads it from the store
        wipe(outbox.tables)
        Outbox(ledger, outbox.tables, batch_size=batch_size).catch_up()
        assert everything(outbox.tables) == first


def test_a_webhook_gets_the_paid_sales_events_in_order_once_each(sale):
    ledger, desk, outbox = sale
    endpoints, running = WebhookEndpoints(outbox.tables), Running()
    try:
        with Receiver() as receiver:
            endpoint = endpoints.add(receiver.url, ["payment.awaiting", "payment.received", "payment.refunded"])
            pay_and_refund(ledger, desk)
            outbox.catch_up()
            running.worker(endpoints, endpoint.endpoint_id, FAST)
            head = outbox.tables.head()
            wait_for(lambda: endpoints.get(endpoint.endpoint_id).position == head, what="the payment's deliveries")
            delivered = [json.loads(body) for body in receiver.accepted()]
            assert [(e["type"], e["amount"], e["currency"]) for e in delivered] == [
                ("payment.awaiting", 9100, "EUR"),
                ("payment.received", 9100, "EUR"),
                ("payment.refunded", 5000, "EUR"),
                ("payment.refunded", 3190, "EUR"),
            ]
            assert len(receiver.requests) == 4
    finally:
        running.stop.set()
        for thread in running.threads:
            thread.join(timeout=30)


def test_the_payment_emails_arrive_once_with_the_amounts_reference_and_bank_account(sale):
    ledger, desk, outbox = sale
    with smtp_inbox() as (inbox, settings):
        settings = type(settings)(**{**settings.__dict__, "bank_account_holder": BANK["BANK_ACCOUNT_HOLDER"],
                                     "bank_iban": BANK["BANK_ACCOUNT_IBAN"]})  # fmt: skip
        sender = EmailSender(outbox.tables, settings)
        booking_id = pay_and_refund(ledger, desk)
        reference = creditor_reference(UUID(booking_id))
        outbox.catch_up()
        assert sender.send_due() == 5
        assert sender.send_due() == 0
        again = EmailSender(outbox.tables, settings)  # a sender from the start: nothing is sent twice
        with again.tables.transaction() as tx:
            tx.move_position("emails", again.tables.position("emails") or 0, 0)
        assert again.send_due() == 0
        awaiting, confirmed, cancelled, *refunds = inbox.messages
        assert awaiting["Message-ID"] == f"<awaiting.{booking_id}@ledger.test>"
        assert awaiting["Subject"] == f"Please pay 91.00 EUR for your booking (GALA), reference {reference}"
        text = awaiting.get_body(("plain",)).get_content()
        html = awaiting.get_body(("html",)).get_content()
        for shown in ("91.00 EUR", reference, "Concert Hall Ltd", "DE89370400440532013000", "2026-"):
            assert shown in text and shown in html
        assert confirmed["Subject"] == "Your booking is confirmed: 2 × GALA"
        assert cancelled["Subject"] == "Your booking is cancelled: 2 × GALA"
        assert [m["Subject"] for m in refunds] == [
            "Refund sent: 50.00 EUR for your booking (GALA)",
            "Refund sent: 31.90 EUR for your booking (GALA)",
        ]
        assert len({m["Message-ID"] for m in refunds}) == 2  # one booking, two refunds: two messages
        assert all(reference in m.get_body(("plain",)).get_content() for m in refunds)
        assert [s["kind"] for s in sender.sends()] == ["awaiting", "confirmed", "cancelled", "refunded", "refunded"]
