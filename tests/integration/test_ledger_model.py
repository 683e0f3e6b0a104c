"""Hypothesis drives two ledger instances sharing one store and checks them against a model.

The model is a plain dict of tiers and bookings. Each step books, cancels or adds
capacity through either instance (so their caches and versions interleave); after each
step the aggregates and, after catch-up, the read tables must equal the model.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from application import BookingLedger, TierNotFoundError
from application.audit import TierAudit
from domain.errors import BookingAlreadyCancelledError, InsufficientTicketsError, NotBookingOwnerError
from projections import Follower, open_view
from projections.rebuild import rebuild
from tests.conftest import postgres_schema

TIERS = {"VIP": 4, "GA": 7}
USERS = st.sampled_from(["ann", "bob"])
QUANTITIES = st.integers(min_value=1, max_value=5)


@dataclass
class ModelBooking:
    user: str
    tier: str
    quantity: int
    cancelled: bool = False


class LedgerMachine(RuleBasedStateMachine):
    bookings = Bundle("bookings")

    def __init__(self) -> None:
        super().__init__()
        self.resources = ExitStack()
        self.env = self.open_store()
        self.ledgers = [self.resources.enter_context(BookingLedger(env=self.env)) for _ in range(2)]
        self.capacity = dict(TIERS)
        self.model: dict = {}
        for code, capacity in TIERS.items():
            self.ledgers[0].create_tier(code, Decimal("5.00"), capacity)
        self.follower = Follower(self.ledgers[1], open_view(self.ledgers[1]))
        self.states = {code: {1: (capacity, 0)} for code, capacity in TIERS.items()}  # version -> (capacity, sold)

    def open_store(self) -> dict[str, str]:
        directory = self.resources.enter_context(tempfile.TemporaryDirectory())
        return {"SQLITE_DBNAME": f"{directory}/ledger.sqlite3"}

    def sold(self, tier: str) -> int:
        return sum(b.quantity for b in self.model.values() if b.tier == tier and not b.cancelled)

    @rule(target=bookings, via=st.sampled_from([0, 1]), user=USERS, tier=st.sampled_from([*TIERS, "NONE"]), quantity=QUANTITIES)
    def book(self, via, user, tier, quantity):
        if tier not in TIERS:
            with pytest.raises(TierNotFoundError):
                self.ledgers[via].book(user, tier, quantity)
            return None
        if quantity > self.capacity[tier] - self.sold(tier):
            with pytest.raises(InsufficientTicketsError):
                self.ledgers[via].book(user, tier, quantity)
            return None
        receipt = self.ledgers[via].book(user, tier, quantity)
        self.model[receipt.booking_id] = ModelBooking(user, tier, quantity)
        assert receipt.remaining == self.capacity[tier] - self.sold(tier)
        return receipt.booking_id

    @rule(via=st.sampled_from([0, 1]), booking_id=bookings, as_owner=st.booleans())
    def cancel(self, via, booking_id, as_owner):
        if booking_id is None:
            return
        booking = self.model[booking_id]
        user = booking.user if as_owner else f"not-{booking.user}"
        expected = None if as_owner else NotBookingOwnerError
        if as_owner and booking.cancelled:
            expected = BookingAlreadyCancelledError
        if expected:
            with pytest.raises(expected):
                self.ledgers[via].cancel(booking_id, user)
        else:
            assert self.ledgers[via].cancel(booking_id, user).status == "cancelled"
            booking.cancelled = True

    @rule(via=st.sampled_from([0, 1]), tier=st.sampled_from(list(TIERS)), quantity=QUANTITIES)
    def add_capacity(self, via, tier, quantity):
        self.ledgers[via].add_capacity(tier, quantity)
        self.capacity[tier] += quantity

    @rule()
    def rebuild_the_read_tables(self):
        self.follower.catch_up()
        view = self.follower.view
        live = (view.list_tiers(), view.all_bookings())
        rebuild(self.ledgers[0])
        assert (view.list_tiers(), view.all_bookings()) == live

    @invariant()
    def the_audit_replay_matches_the_model_at_every_version(self):
        audit = TierAudit(self.ledgers[0])
        self.follower.catch_up()
        for tier, capacity in self.capacity.items():
            self.states[tier][self.ledgers[0].get_tier(tier).version] = (capacity, self.sold(tier))
            lines, problems = audit.verify(tier, self.follower.view)
            assert problems == []
            assert {line.version: (line.capacity, line.sold) for line in lines} == self.states[tier]

    @invariant()
    def aggregates_match_the_model(self):
        for tier, capacity in self.capacity.items():
            for ledger in self.ledgers:
                state = ledger.get_tier(tier)
                assert (state.capacity, state.sold) == (capacity, self.sold(tier))
                assert state.available >= 0

    @invariant()
    def read_tables_match_the_model_after_catch_up(self):
        self.follower.catch_up()
        view = self.follower.view
        assert {t.tier: (t.capacity, t.sold) for t in view.list_tiers()} == {
            tier: (capacity, self.sold(tier)) for tier, capacity in self.capacity.items()
        }
        assert {
            b.booking_id: (b.user_id, b.tier, b.quantity, b.status) for b in view.all_bookings()
        } == {
            i: (b.user, b.tier, b.quantity, "cancelled" if b.cancelled else "confirmed")
            for i, b in self.model.items()
        }

    def teardown(self):
        self.resources.close()


class PostgresLedgerMachine(LedgerMachine):
    def open_store(self) -> dict[str, str]:
        schema = postgres_schema()  # the fixture's generator: create, yield, drop
        self.resources.callback(next, schema, None)
        return next(schema)


LedgerMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=20, deadline=None)
PostgresLedgerMachine.TestCase.settings = LedgerMachine.TestCase.settings
TestLedgerOnSQLite = LedgerMachine.TestCase
TestLedgerOnPostgres = pytest.mark.postgres(PostgresLedgerMachine.TestCase)
