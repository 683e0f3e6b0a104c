"""Hypothesis drives a tiny tier with a waiting list through the ledger (SQLite and
PostgreSQL) and checks it against a plain model after every step.

The model is a list of who waits (in order), the tickets kept for them, the open offers and
the bookings sold. Steps: a public booking, a cancellation, joining, leaving, accepting,
declining, an offer lapsing (the clock moved past its deadline and the hold-expiry process
run), and more capacity. After each step the tier's figures, its list and its offers must be
the model's; the read tables and the audit (every version) must agree at the end.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from application import BookingLedger
from application.audit.tier_audit import TierAudit
from application.booking.waiting_list import WaitingList
from domain.errors import (
    AlreadyWaitingError,
    InsufficientTicketsError,
    NotWaitingError,
    TierNotSoldOutError,
)
from domain.waiting_list import DEFAULT_OFFER_SECONDS
from projections import HoldExpiry, Projector, open_view
from tests.conftest import machine_settings, postgres_schema_for

USERS = st.sampled_from(["ann", "bob", "cat", "dan"])
QUANTITIES = st.integers(min_value=1, max_value=2)
OFFER = timedelta(seconds=DEFAULT_OFFER_SECONDS)


class WaitingListMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.resources = ExitStack()
        self.ledger = self.resources.enter_context(BookingLedger(env=self.open_store()))
        self.now = datetime(2026, 1, 1, tzinfo=UTC)
        self.ledger.clock = lambda: self.now
        self.ledger.create_tier("GA", Decimal("5.00"), 2)
        self.waiting_list = WaitingList(self.ledger)
        self.follower = Projector(self.ledger, open_view(self.ledger))
        self.expiry = HoldExpiry(self.ledger, self.follower.view)
        # The model.
        self.capacity = 2
        self.sold: dict = {}  # booking id -> (user, quantity)
        self.queue: list[tuple[str, int]] = []  # who waits, first in line first
        self.kept = 0
        self.offers: dict[str, tuple[int, datetime]] = {}  # user -> (quantity, deadline)

    def open_store(self) -> dict[str, str]:
        directory = self.resources.enter_context(tempfile.TemporaryDirectory())
        return {"SQLITE_DBNAME": f"{directory}/ledger.sqlite3"}

    @property
    def available(self) -> int:
        held = self.kept + sum(q for q, _ in self.offers.values())
        return self.capacity - sum(q for _, q in self.sold.values()) - held

    def serve(self) -> None:
        """The rule, written again: keep what is free while anyone waits, offer in strict
        order, put the kept back on sale once nobody waits."""
        if self.queue:
            self.kept += self.available
        while self.queue and self.queue[0][1] <= self.kept:
            user, quantity = self.queue.pop(0)
            self.kept -= quantity
            self.offers[user] = (quantity, self.now + OFFER)
        if not self.queue:
            self.kept = 0

    def place_of(self, user: str) -> bool:
        return user in self.offers or any(u == user for u, _ in self.queue)

    @rule(user=USERS, quantity=QUANTITIES)
    def book(self, user, quantity):
        try:
            receipt = self.ledger.book(f"public-{user}", "GA", quantity)
        except InsufficientTicketsError:
            assert quantity > self.available or self.queue
            return
        assert quantity <= self.available and not self.queue
        self.sold[receipt.booking_id] = (f"public-{user}", quantity)

    @precondition(lambda self: self.sold)
    @rule(data=st.data())
    def cancel(self, data):
        booking_id = data.draw(st.sampled_from(sorted(self.sold, key=str)))
        user, _ = self.sold.pop(booking_id)
        self.ledger.cancel(booking_id, user)
        self.serve()

    @rule(user=USERS, quantity=QUANTITIES)
    def join(self, user, quantity):
        try:
            self.waiting_list.join(user, "GA", quantity)
        except AlreadyWaitingError:
            assert self.place_of(user)
            return
        except TierNotSoldOutError:
            assert not self.queue and quantity <= self.available and not self.place_of(user)
            return
        assert not self.place_of(user) and (self.queue or quantity > self.available)
        self.queue.append((user, quantity))
        self.serve()

    @rule(user=USERS)
    def leave(self, user):
        try:
            self.waiting_list.leave(user, "GA")
        except NotWaitingError:
            assert not any(u == user for u, _ in self.queue)
            return
        self.queue = [(u, q) for u, q in self.queue if u != user]
        self.serve()

    @precondition(lambda self: self.offers)
    @rule(data=st.data(), accept=st.booleans())
    def answer_an_offer(self, data, accept):
        user = data.draw(st.sampled_from(sorted(self.offers)))
        hold = self.waiting_list.place(user, "GA").place.offer
        quantity, _ = self.offers.pop(user)
        if accept:
            self.ledger.confirm_hold(hold, user)
            self.sold[hold] = (user, quantity)
        else:
            self.ledger.release_hold(hold, user)
        self.serve()

    @precondition(lambda self: self.offers)
    @rule()
    def the_first_offer_lapses(self):
        self.now = min(deadline for _, deadline in self.offers.values())
        self.follower.catch_up()
        lapsing = sorted(user for user, (_, deadline) in self.offers.items() if deadline <= self.now)
        assert self.expiry.expire_due() == len(lapsing)
        for user in lapsing:
            del self.offers[user]
            self.serve()  # each lapse is its own recording: served in turn

    @rule(quantity=QUANTITIES)
    def add_capacity(self, quantity):
        self.ledger.add_capacity("GA", quantity)
        self.capacity += quantity
        self.serve()

    @invariant()
    def the_tier_is_the_model(self):
        tier = self.ledger.find_tier("GA")
        assert tier is not None
        assert [(e["user_id"], e["quantity"]) for e in tier.waiting] == self.queue
        assert {o["user_id"]: (o["quantity"], o["expires_at"]) for o in tier.offers} == self.offers
        assert (tier.capacity, tier.kept, tier.available) == (self.capacity, self.kept, self.available)
        assert tier.sold == sum(q for _, q in self.sold.values())
        assert not (self.queue and tier.available)  # never on sale while anyone waits

    def teardown(self):
        try:
            self.follower.catch_up()
            assert TierAudit(self.ledger).verify("GA", self.follower.view)[1] == []
            rows = [row for row in self.follower.view.places_of_tier("GA") if row.status == "waiting"]
            assert [(row.user_id, row.quantity) for row in rows] == self.queue
        finally:
            self.resources.close()


class PostgresWaitingListMachine(WaitingListMachine):
    def open_store(self) -> dict[str, str]:
        return postgres_schema_for(self.resources)


WaitingListMachine.TestCase.settings = machine_settings(max_examples=40, stateful_step_count=30)
PostgresWaitingListMachine.TestCase.settings = machine_settings(max_examples=8, stateful_step_count=25)
TestWaitingListOnSQLite = WaitingListMachine.TestCase
TestWaitingListOnPostgres = pytest.mark.postgres(PostgresWaitingListMachine.TestCase)
