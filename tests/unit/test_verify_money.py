"""The money checks of ``ticketledger verify --payments`` on hand-made stores and histories.

The store is a real ledger in a SQLite file: a paid event and a free tier, paid by card, by a
bank statement (imported twice) and at the box office, a late payment refunded, a paid
booking cancelled with its refund sent. That day passes. Each broken promise is then made by
hand, through the aggregates' own event methods where their guards would refuse it (as a bug
in them would let it through), and must be found as the anomaly of its kind.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from application import BookingLedger
from application.booking.tiers import NewShow, NewTier
from application.payments.bank import BankStatementImport
from application.payments.desk import PaymentDesk
from domain.payments import Incoming, Payment, PaymentTerms
from scripts.harness import camt053
from scripts.verify.checker import check
from scripts.verify.history import Attempt, History
from scripts.verify.money import MoneyRecord, check_money, read_money
from scripts.verify.store import Store, read_store

TERMS = PaymentTerms("EUR", seconds_to_pay=900, refund_percent=50)
ACCOUNT = "DE89370400440532013000"
DUE = 4550  # one ticket


@dataclass
class Sale:
    ledger: BookingLedger
    desk: PaymentDesk
    attempts: list[Attempt]

    def hold(self, user: str) -> uuid.UUID:
        booking = self.ledger.hold(user, "GALA", 1).booking_id
        self.desk.open(booking)
        return booking

    def payment(self, booking: uuid.UUID) -> Payment:
        found = self.ledger.aggregates.find(self.desk.details(booking).payment_id, Payment)
        assert found is not None
        return found

    def answered(self, op: str, args: dict, body: dict) -> None:
        """What the service answered the delivery side (200)."""
        n = len(self.attempts) + 1
        self.attempts.append(Attempt(n, 0, f"r{n}", "in-process", op, args, None, 0.0, 0.0, 200, body))

    def read(self) -> tuple[Store, MoneyRecord]:
        store = read_store(self.ledger, None, time.time())
        return store, read_money(self.ledger, store.tiers)

    def anomalies(self, change=lambda record: None) -> set[str]:
        store, record = self.read()
        change(record)
        return {anomaly.kind for anomaly in check_money(self.attempts, store, record)}


@pytest.fixture
def sale(tmp_path) -> Iterator[Sale]:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "ledger.sqlite3")}
    with BookingLedger(env=env) as ledger:
        ledger.create_show(NewShow("gala", "Gala", [NewTier("GALA", Decimal("45.50"), 10)], payment=TERMS))
        ledger.create_tier("FREE", Decimal("0"), 10)
        yield Sale(ledger, PaymentDesk(ledger), [])


def a_paid_day(sale: Sale) -> dict[str, uuid.UUID]:
    """Every way in: card (the webhook three times), bank (the statement twice), box office; a
    late card payment refunded; a cancelled booking's refund sent; a free booking."""
    desk, ledger = sale.desk, sale.ledger
    card, bank, counter, late, cancelled = (sale.hold(user) for user in ("card", "bank", "counter", "late", "gone"))
    for _ in range(3):
        match = desk.receive(sale.payment(card).id, Incoming(DUE, "EUR", "card", "pi_1"))
        sale.answered("webhook", {"data": {"object": {"id": "pi_1"}}}, {"match": match.value})
    reference = desk.details(bank).reference
    statement = camt053.statement(ACCOUNT, [camt053.credit("E1", "45.50", reference=reference)]).encode()
    for _ in range(2):
        imported = BankStatementImport(desk).import_statement(statement)
        credits = [{"entry": c.credit.entry, "match": c.match and c.match.value} for c in imported.credits]
        sale.answered("statement", {"camt053": "..."}, {"credits": credits})
    desk.pay_at_counter(counter, Incoming(DUE, "EUR", "cash", "counter:till-1"))
    sale.answered("box-office", {"receipt": "till-1", "bookingId": str(counter)}, {"bookingStatus": "confirmed"})
    desk.pay_at_counter(cancelled, Incoming(DUE, "EUR", "cash", "counter:till-2"))
    desk.cancel(cancelled, "gone")
    desk.refunded(cancelled, DUE // 2, "bank_transfer", "TRF-1")
    ledger.clock = lambda: datetime.now(UTC) + timedelta(seconds=901)
    desk.receive(sale.payment(late).id, Incoming(DUE, "EUR", "card", "pi_2"))
    desk.refunded(late, DUE, "card", "re_1")
    ledger.clock = lambda: datetime.now(UTC)
    ledger.book("free", "FREE", 2)
    return {"card": card, "bank": bank, "counter": counter, "late": late, "cancelled": cancelled}


def stripe(record: MoneyRecord) -> None:
    """What Stripe's stand-in saw: both card payments charged, the late one refunded."""
    record.charged = {"pi_1": DUE, "pi_2": DUE}
    record.stripe_refunded = {"pi_1": 0, "pi_2": DUE}


def test_a_paid_day_the_store_bears_out_has_no_anomaly(sale):
    a_paid_day(sale)
    store, record = sale.read()
    stripe(record)
    assert record.audit == []
    assert check_money(sale.attempts, store, record) == []
    assert {credit.match for credit in record.credits} == {"paid"}  # the second import skipped it


def test_a_hold_confirmed_without_its_payment_is_a_ticket_without_money(sale):
    a_paid_day(sale)
    booking_id = sale.hold("thief")
    tier, booking = sale.ledger.aggregates.tier("GALA"), sale.ledger.aggregates.booking(booking_id)
    booking.confirm_hold("thief", datetime.now(UTC))
    tier.confirm_hold(booking_id, 1, paid=True)  # the tier told it was paid, and no money recorded
    sale.ledger.aggregates.save(tier, booking)
    assert sale.anomalies(stripe) == {"ticket-without-money", "money-unbalanced"}


def test_money_received_for_a_hold_left_held_is_money_without_a_ticket(sale):
    a_paid_day(sale)
    payment = sale.payment(sale.hold("stranded"))
    payment.receive(DUE, "EUR", "cash", "counter:till-9")  # received, the hold never confirmed
    sale.ledger.aggregates.save(payment)
    assert sale.anomalies(stripe) == {"money-without-ticket", "money-unbalanced"}


def test_a_credit_left_for_a_person_and_a_payment_acknowledged_but_not_recorded_are_found(sale):
    a_paid_day(sale)
    reference = sale.desk.details(sale.hold("short")).reference
    short = camt053.statement(ACCOUNT, [camt053.credit("E9", "45.49", reference=reference)], "S2").encode()
    BankStatementImport(sale.desk).import_statement(short)
    assert sale.anomalies(stripe) == {"money-without-ticket"}

    sale.attempts.clear()
    sale.answered("webhook", {"data": {"object": {"id": "pi_lost"}}}, {"match": "paid"})
    found = {a.kind for a in check_money(sale.attempts, *sale.read())}
    assert "money-without-ticket" in found  # and Stripe's charges are missing from this record too


def test_a_counter_receipt_refused_although_the_store_took_it_is_an_unexpected_answer(sale):
    a_paid_day(sale)
    refused = {"error": {"code": "PAYMENT_REFUSED"}}
    n = len(sale.attempts) + 1
    sale.attempts.append(
        Attempt(n, 0, "r", "in-process", "box-office", {"receipt": "till-1"}, None, 0.0, 0.0, 409, refused)
    )
    assert sale.anomalies(stripe) == {"unexpected-answer"}


def test_a_card_charge_the_store_never_received_is_money_without_a_ticket(sale):
    a_paid_day(sale)

    def charged_once_more(record: MoneyRecord) -> None:
        stripe(record)
        record.charged["pi_3"] = DUE

    assert sale.anomalies(charged_once_more) == {"money-without-ticket"}


def test_a_refund_above_what_was_received_is_found_in_the_store_and_at_stripe(sale):
    bookings = a_paid_day(sale)
    payment = sale.payment(bookings["cancelled"])
    payment._request_refund(amount=DUE, reason="cancelled")  # past the cap the aggregate keeps
    sale.ledger.aggregates.save(payment)
    assert "refund-above-received" in sale.anomalies(stripe)


def test_a_refund_requested_before_the_money_came_is_found_although_the_totals_end_even(sale):
    payment = sale.payment(sale.hold("early"))
    payment._request_refund(amount=DUE, reason="late")  # nothing received yet
    payment.receive(DUE, "EUR", "card", "pi_9")
    sale.ledger.aggregates.save(payment)  # received DUE, refunded DUE: even, and wrong on the way
    assert sale.anomalies() == {"refund-above-received"}


def test_a_ticket_confirmed_before_its_money_came_is_found_although_it_ends_paid(sale):
    booking_id = sale.hold("eager")
    tier, booking = sale.ledger.aggregates.tier("GALA"), sale.ledger.aggregates.booking(booking_id)
    booking.confirm_hold("eager", datetime.now(UTC))
    tier.confirm_hold(booking_id, 1, paid=True)
    sale.ledger.aggregates.save(tier, booking)
    payment = sale.payment(booking_id)
    payment.receive(DUE, "EUR", "cash", "counter:till-late")  # the money recorded after the ticket
    sale.ledger.aggregates.save(payment)
    assert sale.anomalies() == {"ticket-without-money"}


def test_a_refund_at_stripe_above_the_charge_is_found(sale):
    a_paid_day(sale)

    def refunded_twice(record: MoneyRecord) -> None:
        stripe(record)
        record.stripe_refunded["pi_2"] = 2 * DUE

    assert sale.anomalies(refunded_twice) == {"refund-above-received"}


def test_a_payment_applied_twice_is_found(sale):
    bookings = a_paid_day(sale)
    payment = sale.payment(bookings["card"])
    payment._receive(amount=DUE, currency="EUR", method="card", provider_id="pi_1")  # the redelivery not refused
    sale.ledger.aggregates.save(payment)
    assert "payment-applied-twice" in sale.anomalies(stripe)


def test_a_confirmed_booking_that_kept_less_than_it_costs_leaves_its_event_unbalanced(sale):
    bookings = a_paid_day(sale)
    payment = sale.payment(bookings["counter"])
    payment.request_refund(1000, "goodwill")  # the ticket stays: the books no longer add up
    sale.ledger.aggregates.save(payment)
    assert sale.anomalies(stripe) == {"money-unbalanced"}


def test_a_hold_confirmed_by_a_payment_is_accounted_for_by_the_payment_that_named_it(sale):
    """The bookings' checker takes a paid hold's confirmation as asked for by the delivery
    that pays it (its ``paysFor``), and as unasked for without one."""
    bookings = a_paid_day(sale)
    store, _ = sale.read()
    hold = Attempt(1, 0, "card", "in-process", "hold", {"userId": "card", "tier": "GALA", "quantity": 1}, None,
                   0.0, 0.0, None)  # fmt: skip
    paying = Attempt(2, 0, "pay", "in-process", "webhook", {"paysFor": [str(bookings["card"])]}, None, 0.0, 0.0, 200,
                     {"match": "paid"})  # fmt: skip
    only_card = replace(store, bookings={k: v for k, v in store.bookings.items() if v.user_id == "card"})
    assert "unattributed-change" not in {a.kind for a in check(History(attempts=[hold, paying]), only_card)}
    assert "unattributed-change" in {a.kind for a in check(History(attempts=[hold]), only_card)}
