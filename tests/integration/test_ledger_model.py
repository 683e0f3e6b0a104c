"""Hypothesis drives two ledger instances sharing one store and checks them against a model.

The model is a plain dict of tiers and bookings. Each step books, holds, orders both tiers
at once (all or nothing, retried under its key), confirms or releases a hold, cancels,
adds capacity, changes a price, moves the shared clock on or runs the hold-expiry process,
through either instance (so their caches and versions interleave); after each step the
aggregates and, after catch-up, the read tables must equal the model, and the audit must agree with it at every version.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule

from application import BookingLedger, BookingNotFoundError, IdempotencyKeyReusedError, TierNotFoundError
from application.audit.tier_audit import TierAudit
from domain.errors import (
    BookingAlreadyCancelledError,
    BookingNotConfirmedError,
    HoldExpiredError,
    HoldNotActiveError,
    InsufficientTicketsError,
)
from projections import HoldExpiry, Projector, open_view
from projections.read_model.rebuild import rebuild
from tests.conftest import machine_settings, postgres_schema_for

TIERS = {"VIP": 4, "GA": 7}
USERS = st.sampled_from(["ann", "bob"])
QUANTITIES = st.integers(min_value=1, max_value=5)
VIA = st.sampled_from([0, 1])
HOLD = timedelta(seconds=60)


@dataclass
class ModelBooking:
    user: str
    tier: str
    quantity: int
    status: str = "confirmed"
    expires_at: datetime | None = None

    def hold_is_due(self, now: datetime) -> bool:
        return self.status == "expired" or (self.status == "held" and now >= self.expires_at)


class LedgerMachine(RuleBasedStateMachine):
    bookings = Bundle("bookings")

    def __init__(self) -> None:
        super().__init__()
        self.resources = ExitStack()
        self.env = self.open_store()
        self.ledgers = [
            self.resources.enter_context(BookingLedger(env={**self.env, "HOLD_SECONDS": "60"})) for _ in range(2)
        ]
        self.now = datetime(2026, 1, 1, tzinfo=UTC)
        for ledger in self.ledgers:
            ledger.clock = lambda: self.now
        self.capacity = dict(TIERS)
        self.prices = dict.fromkeys(TIERS, Decimal("5.00"))
        self.model: dict = {}
        self.orders: dict = {}  # (user, key) -> (items, booking ids) of orders made with a key
        for code, capacity in TIERS.items():
            self.ledgers[0].create_tier(code, Decimal("5.00"), capacity)
        self.follower = Projector(self.ledgers[1], open_view(self.ledgers[1]))
        self.states = {code: {1: (capacity, 0, 0)} for code, capacity in TIERS.items()}  # version -> figures

    def open_store(self) -> dict[str, str]:
        directory = self.resources.enter_context(tempfile.TemporaryDirectory())
        return {"SQLITE_DBNAME": f"{directory}/ledger.sqlite3"}

    def counted(self, tier: str, status: str) -> int:
        return sum(b.quantity for b in self.model.values() if b.tier == tier and b.status == status)

    def figures(self, tier: str) -> tuple[int, int, int]:
        """Capacity, sold and held, as the model has them."""
        return self.capacity[tier], self.counted(tier, "confirmed"), self.counted(tier, "held")

    def available(self, tier: str) -> int:
        capacity, sold, held = self.figures(tier)
        return capacity - sold - held

    @rule(
        target=bookings,
        via=VIA,
        user=USERS,
        tier=st.sampled_from([*TIERS, "NONE"]),
        quantity=QUANTITIES,
        holds=st.booleans(),
    )
    def book_or_hold(self, via, user, tier, quantity, holds):
        take = self.ledgers[via].hold if holds else self.ledgers[via].book
        expected = (
            TierNotFoundError
            if tier not in TIERS
            else (InsufficientTicketsError if quantity > self.available(tier) else None)
        )
        if expected:
            with pytest.raises(expected):
                take(user, tier, quantity)
            return None
        receipt = take(user, tier, quantity)
        self.model[receipt.booking_id] = ModelBooking(
            user, tier, quantity, "held" if holds else "confirmed", self.now + HOLD if holds else None
        )
        assert (receipt.remaining, receipt.status) == (self.available(tier), self.model[receipt.booking_id].status)
        return receipt.booking_id

    def act(self, command, booking_id, as_owner, expected, new_status):
        """Run a booking command as its owner or someone else; check the outcome."""
        booking = self.model[booking_id]
        user = booking.user if as_owner else f"not-{booking.user}"
        if not as_owner:
            expected = BookingNotFoundError  # someone else's booking is not found, as an unknown one
        if expected:
            with pytest.raises(expected):
                command(booking_id, user)
        else:
            assert command(booking_id, user).status == new_status
            booking.status = new_status

    @rule(
        target=bookings,
        via=VIA,
        user=USERS,
        quantities=st.tuples(QUANTITIES, QUANTITIES),
        key=st.sampled_from([None, "order-1", "order-2"]),
    )
    def order_both_tiers(self, via, user, quantities, key):
        """An order of VIP and GA: all of it or none, its key's retry answered the same."""
        items = list(zip(TIERS, quantities, strict=True))
        earlier = self.orders.get((user, key)) if key else None
        if earlier is not None and earlier[0] != items:
            with pytest.raises(IdempotencyKeyReusedError):
                self.ledgers[via].order(user, items, key)
            return multiple()
        short = next((tier for tier, quantity in items if quantity > self.available(tier)), None)
        if earlier is None and short is not None:
            with pytest.raises(InsufficientTicketsError) as refused:
                self.ledgers[via].order(user, items, key)
            assert refused.value.tier == short  # the first item that cannot be had
            return multiple()
        receipt = self.ledgers[via].order(user, items, key)
        ids = [item.booking_id for item in receipt.items]
        if earlier is None:
            for booking_id, (tier, quantity) in zip(ids, items, strict=True):
                self.model[booking_id] = ModelBooking(user, tier, quantity)
            if key:
                self.orders[(user, key)] = (items, ids)
        assert ids == (earlier[1] if earlier else ids)
        assert [(i.tier, i.quantity, i.status, i.remaining) for i in receipt.items] == [
            (tier, quantity, self.model[i].status, self.available(tier))
            for i, (tier, quantity) in zip(ids, items, strict=True)
        ]
        return multiple(*ids) if earlier is None else multiple()

    @rule(via=VIA, booking_id=bookings, as_owner=st.booleans())
    def cancel(self, via, booking_id, as_owner):
        if booking_id is None:
            return
        status = self.model[booking_id].status
        expected = {"confirmed": None, "cancelled": BookingAlreadyCancelledError}.get(status, BookingNotConfirmedError)
        self.act(self.ledgers[via].cancel, booking_id, as_owner, expected, "cancelled")

    @rule(via=VIA, booking_id=bookings, as_owner=st.booleans(), confirms=st.booleans())
    def confirm_or_release_hold(self, via, booking_id, as_owner, confirms):
        if booking_id is None:
            return
        booking = self.model[booking_id]
        new_status = "confirmed" if confirms else "released"
        if booking.status == new_status:
            expected = None  # a retry: no change
        elif booking.hold_is_due(self.now):
            expected = HoldExpiredError
        else:
            expected = None if booking.status == "held" else HoldNotActiveError
        command = self.ledgers[via].confirm_hold if confirms else self.ledgers[via].release_hold
        self.act(command, booking_id, as_owner, expected, new_status)

    @rule(seconds=st.sampled_from([1, 30, 59, 61]))  # around the 60 s hold, to meet its edges
    def time_passes(self, seconds):
        self.now += timedelta(seconds=seconds)

    @rule(via=VIA)
    def expire_due_holds(self, via):
        self.follower.catch_up()
        due = [b for b in self.model.values() if b.status == "held" and self.now >= b.expires_at]
        assert HoldExpiry(self.ledgers[via], self.follower.view).expire_due() == len(due)
        for booking in due:
            booking.status = "expired"

    @rule(via=VIA, tier=st.sampled_from(list(TIERS)), quantity=QUANTITIES)
    def add_capacity(self, via, tier, quantity):
        self.ledgers[via].add_capacity(tier, quantity)
        self.capacity[tier] += quantity

    @rule(via=VIA, tier=st.sampled_from(list(TIERS)), cents=st.sampled_from([499, 500, 750, 1000]))
    def change_price(self, via, tier, cents):
        price = Decimal(cents).scaleb(-2)  # 5.00 among them: the same price again, which records nothing
        assert self.ledgers[via].change_price(tier, price).price == price
        self.prices[tier] = price

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
        for tier in self.capacity:
            self.states[tier][self.ledgers[0].get_tier(tier).version] = self.figures(tier)
            lines, problems = audit.verify(tier, self.follower.view)
            assert problems == []
            replayed = {line.version: (line.capacity, line.sold, line.held) for line in lines}
            # One expiry step may record several versions; the model knows those it saw.
            assert {version: replayed[version] for version in self.states[tier]} == self.states[tier]

    @invariant()
    def aggregates_match_the_model(self):
        for tier in self.capacity:
            for ledger in self.ledgers:
                state = ledger.get_tier(tier)
                assert (state.capacity, state.sold, state.held) == self.figures(tier)
                assert state.price == self.prices[tier]
                assert state.available == self.available(tier) >= 0

    @invariant()
    def read_tables_match_the_model_after_catch_up(self):
        self.follower.catch_up()
        view = self.follower.view
        assert {t.tier: (t.capacity, t.sold, t.held, t.price) for t in view.list_tiers()} == {
            tier: (*self.figures(tier), self.prices[tier]) for tier in self.capacity
        }
        assert {b.booking_id: (b.user_id, b.tier, b.quantity, b.status, b.expires_at) for b in view.all_bookings()} == {
            i: (b.user, b.tier, b.quantity, b.status, b.expires_at) for i, b in self.model.items()
        }

    def teardown(self):
        self.resources.close()


class PostgresLedgerMachine(LedgerMachine):
    def open_store(self) -> dict[str, str]:
        return postgres_schema_for(self.resources)


LedgerMachine.TestCase.settings = machine_settings(max_examples=30, stateful_step_count=25)
PostgresLedgerMachine.TestCase.settings = LedgerMachine.TestCase.settings
TestLedgerOnSQLite = LedgerMachine.TestCase
TestLedgerOnPostgres = pytest.mark.postgres(PostgresLedgerMachine.TestCase)
