"""Hypothesis drives a paid sale through the batches and checks it against a model.

Each step holds seats of a paid tier, delivers money for a hold (exact, short or over, new
or a redelivery), delivers several payments in one batch (the same hold's money twice among
them), moves the clock on, expires the holds that are due, or cancels a paid booking. The
model writes the payment rule again (``match_payment``): after each step every booking's
status, every payment's money and the tier's counts must equal it, and the books balance.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from application import BookingLedger
from application.audit.money_audit import MoneyAudit
from application.booking.paying import PendingPayment
from application.booking.tiers import NewShow, NewTier
from application.payments.desk import PaymentDesk
from domain.errors import InsufficientTicketsError
from domain.payments import Incoming, Match, PaymentTerms
from tests.conftest import machine_settings, postgres_schema_for

PRICE = 1250
CAPACITY = 6
TERMS = PaymentTerms("EUR", seconds_to_pay=120, refund_percent=50)
AMOUNTS = st.sampled_from(["exact", "exact", "short", "over"])


@dataclass
class ModelHold:
    quantity: int
    expires_at: datetime
    status: str = "held"
    received: int = 0
    refund_requested: int = 0
    applied: set[str] = field(default_factory=set)

    @property
    def due(self) -> int:
        return PRICE * self.quantity

    def match(self, amount: int, provider_id: str, now: datetime) -> Match:
        """``match_payment``, written again."""
        if provider_id in self.applied:
            return Match.APPLIED
        if self.received:
            return Match.DUPLICATE
        if amount != self.due:
            return Match.SHORT if amount < self.due else Match.OVER
        return Match.PAID if self.status == "held" and now < self.expires_at else Match.LATE

    def apply(self, match: Match, amount: int, provider_id: str) -> None:
        if match in (Match.PAID, Match.LATE):
            self.received += amount
            self.applied.add(provider_id)
        if match == Match.PAID:
            self.status = "confirmed"
        if match == Match.LATE:
            self.refund_requested += amount


class PaidSaleMachine(RuleBasedStateMachine):
    holds = Bundle("holds")

    def __init__(self) -> None:
        super().__init__()
        self.resources = ExitStack()
        self.ledger = self.resources.enter_context(BookingLedger(env=self.open_store()))
        self.now = datetime(2026, 1, 1, tzinfo=UTC)
        self.ledger.clock = lambda: self.now
        self.ledger.create_show(NewShow("gala", "Gala", [NewTier("GALA", Decimal("12.50"), CAPACITY)], payment=TERMS))
        self.desk = PaymentDesk(self.ledger)
        self.model: dict = {}
        self.payments: dict = {}
        self.receipts = 0

    def open_store(self) -> dict[str, str]:
        directory = self.resources.enter_context(tempfile.TemporaryDirectory())
        return {"SQLITE_DBNAME": f"{directory}/ledger.sqlite3"}

    def taken(self, status: str) -> int:
        return sum(hold.quantity for hold in self.model.values() if hold.status == status)

    def money(self, hold_id, kind: str) -> tuple[int, str]:
        """An amount of the kind for the hold, and a new provider id."""
        self.receipts += 1
        due = self.model[hold_id].due
        return {"exact": due, "short": due - 1, "over": due + 1}[kind], f"pi_{self.receipts}"

    def deliver(self, hold_id, amount: int, provider_id: str) -> Match:
        return self.desk.receive(self.payments[hold_id], Incoming(amount, "EUR", "card", provider_id))

    @rule(target=holds, quantity=st.integers(1, 3))
    def hold(self, quantity):
        try:
            receipt = self.ledger.hold("ann", "GALA", quantity)
        except InsufficientTicketsError:
            assert quantity > CAPACITY - self.taken("held") - self.taken("confirmed")
            return None
        self.model[receipt.booking_id] = ModelHold(quantity, self.now + timedelta(seconds=TERMS.seconds_to_pay))
        self.payments[receipt.booking_id] = self.desk.details(receipt.booking_id).payment_id  # opened with it
        return receipt.booking_id

    @rule(hold_id=holds, kind=AMOUNTS)
    def pay(self, hold_id, kind):
        if hold_id is None:
            return
        amount, provider_id = self.money(hold_id, kind)
        expected = self.model[hold_id].match(amount, provider_id, self.now)
        assert self.deliver(hold_id, amount, provider_id) == expected
        self.model[hold_id].apply(expected, amount, provider_id)

    @rule(hold_id=holds)
    def redeliver(self, hold_id):
        if hold_id is None or not self.model[hold_id].applied:
            return
        provider_id = sorted(self.model[hold_id].applied)[0]
        assert self.deliver(hold_id, self.model[hold_id].due, provider_id) == Match.APPLIED

    @rule(hold_ids=st.lists(holds, min_size=2, max_size=4), kinds=st.lists(AMOUNTS, min_size=4, max_size=4))
    def pay_in_one_batch(self, hold_ids, kinds):
        """Several payments decided in one batch: a later one sees what an earlier one did."""
        batch, expected = [], []
        for hold_id, kind in zip(hold_ids, kinds, strict=False):
            if hold_id is None:
                continue
            amount, provider_id = self.money(hold_id, kind)
            match = self.model[hold_id].match(amount, provider_id, self.now)
            self.model[hold_id].apply(match, amount, provider_id)
            expected.append(match)
            money = Incoming(amount, "EUR", "card", provider_id)
            batch.append(PendingPayment("GALA", hold_id, self.payments[hold_id], money))
        if batch:
            self.ledger._batch_commit(batch)
            assert [pending.result() for pending in batch] == expected

    @rule(seconds=st.integers(1, 90))
    def time_passes(self, seconds):
        self.now += timedelta(seconds=seconds)

    @rule()
    def expire_due_holds(self):
        for hold_id, hold in self.model.items():
            if hold.status == "held" and self.now >= hold.expires_at:
                assert self.ledger.expire_hold(hold_id).status == "expired"
                hold.status = "expired"

    @rule(hold_id=holds)
    def cancel(self, hold_id):
        if hold_id is None or self.model[hold_id].status != "confirmed":
            return
        assert self.desk.cancel(hold_id, "ann").status == "cancelled"
        hold = self.model[hold_id]
        hold.status = "cancelled"
        hold.refund_requested += hold.received * TERMS.refund_percent // 100

    @invariant()
    def bookings_payments_and_the_tier_match_the_model(self):
        for hold_id, hold in self.model.items():
            details = self.desk.details(hold_id)
            assert (details.booking_status, details.received, details.refund_requested) == (
                hold.status,
                hold.received,
                hold.refund_requested,
            )
        tier = self.ledger.get_tier("GALA")
        assert (tier.sold, tier.held) == (self.taken("confirmed"), self.taken("held"))

    @invariant()
    def the_books_balance(self):
        assert MoneyAudit(self.ledger).verify() == []

    def teardown(self):
        self.resources.close()


class PostgresPaidSaleMachine(PaidSaleMachine):
    def open_store(self) -> dict[str, str]:
        return postgres_schema_for(self.resources)


PaidSaleMachine.TestCase.settings = machine_settings(max_examples=25, stateful_step_count=20)
PostgresPaidSaleMachine.TestCase.settings = PaidSaleMachine.TestCase.settings
TestPaidSaleOnSQLite = PaidSaleMachine.TestCase
TestPaidSaleOnPostgres = pytest.mark.postgres(PostgresPaidSaleMachine.TestCase)
