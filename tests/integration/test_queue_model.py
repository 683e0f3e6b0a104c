"""Hypothesis drives the queue store against a plain model, on both store kinds (in Redis
through two store objects, as two processes would).

Each step joins a user (before or after the opening, with a random pre-queue rank),
looks at a place, moves the clock on, or changes the rate. The model is a list of places
and a frontier that grows at the rate and never beyond those who joined. After every
step: every place is taken exactly once (1..joined); the pre-queue is in rank order
ahead of everyone who came later, and later arrivals are in arrival order; a user has one
place unless their pass lapsed; the store's frontier is the model's, never more than the
rate's integral since the opening; and a place is admitted exactly when its place is
within the frontier (so nobody is admitted out of order).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from application.waiting_room.memory_store import MemoryQueueStore
from application.waiting_room.redis_store import RedisQueueStore
from application.waiting_room.store import QueueStore, RoomTerms
from tests.conftest import machine_settings
from tests.queue_stores import FakeClock, redis_client, redis_prefix

OPENS = 1_000_010.0
PASS_SECONDS = 6
USERS = st.sampled_from(["ann", "bob", "cat", "dan", "eve", "fay", "gus"])
RANKS = st.integers(min_value=0, max_value=2**52)
RATES = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5])


@dataclass
class ModelPlace:
    user: str
    pre_rank: int | None  # None: joined after the opening
    arrival: int  # order of joining
    admitted_at: float | None = None


class QueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(OPENS - 8)
        self.resources = ExitStack()
        self.stores = self.make_stores()
        assert self.stores[0].turn_on(RoomTerms("r", None, OPENS, PASS_SECONDS, 1.0, 10.0), 1.0, False)
        self.places: dict[str, ModelPlace] = {}
        self.users: dict[str, str] = {}
        self.frontier, self.rate, self.since, self.integral = 0.0, 1.0, OPENS, 0.0
        self.next_id = 0

    def make_stores(self) -> list[QueueStore]:
        store = MemoryQueueStore(clock=self.clock)
        return [store, store]

    def teardown(self) -> None:
        self.resources.close()

    # The model.

    def order(self) -> list[str]:
        """Every place in the order of service."""
        pre = sorted(
            (t for t in self.places if self.places[t].pre_rank is not None),
            key=lambda t: (self.places[t].pre_rank, t),
        )
        later = sorted(
            (t for t in self.places if self.places[t].pre_rank is None), key=lambda t: self.places[t].arrival
        )
        return pre + later

    def model_advance(self) -> None:
        """Up to now: the frontier at the rate, capped by those who joined; the rate's integral."""
        since = max(self.since, OPENS)
        if self.clock.now > since:
            self.frontier = min(self.frontier + self.rate * (self.clock.now - since), len(self.places))
            self.integral += self.rate * (self.clock.now - since)
            self.since = self.clock.now

    def lapsed(self, model: ModelPlace) -> bool:
        return model.admitted_at is not None and self.clock.now >= model.admitted_at + PASS_SECONDS

    # Steps.

    @rule(user=USERS, rank=RANKS, via=st.sampled_from([0, 1]))
    def join(self, user: str, rank: int, via: int) -> None:
        place_id = f"t{self.next_id:03d}"
        self.next_id += 1
        place, new = self.stores[via].join("r", user, place_id, rank, PASS_SECONDS)
        existing = self.users.get(user)
        if existing is not None and not self.lapsed(self.places[existing]):
            assert (place.place_id, new) == (existing, False)
        else:
            assert (place.place_id, new) == (place_id, True)
            pre = rank if self.clock.now < OPENS else None
            self.places[place_id] = ModelPlace(user, pre, len(self.places))
            self.users[user] = place_id
            assert place.pre_queue == (pre is not None)
        self.model_advance()  # with the newcomer counted
        self.check_place(place)

    @precondition(lambda self: self.places)
    @rule(data=st.data(), via=st.sampled_from([0, 1]))
    def look(self, data: st.DataObject, via: int) -> None:
        self.model_advance()
        place_id = data.draw(st.sampled_from(sorted(self.places)))
        self.check_place(self.stores[via].place("r", place_id))

    # Steps a binary float holds exactly: sums of 0.1 drift by a billionth, which at a boundary
    # put the Lua script's frontier and the model's on either side of a place (found at random).
    @rule(seconds=st.sampled_from([0.125, 0.25, 0.5, 1.0, 2.0, 3.0]))
    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(rate=RATES, via=st.sampled_from([0, 1]))
    def change_rate(self, rate: float, via: int) -> None:
        self.model_advance()
        gate = self.stores[via].set_rate("r", rate, False)
        self.rate = rate
        assert gate.frontier == pytest.approx(self.frontier)

    def check_place(self, place) -> None:
        model = self.places[place.place_id]
        assert place.user_id == model.user
        if self.clock.now >= OPENS or model.pre_rank is None:
            assert place.number == self.order().index(place.place_id) + 1
        assert place.gate.frontier == pytest.approx(self.frontier)
        due = self.clock.now >= OPENS and place.number <= int(self.frontier + 1e-9)
        if model.admitted_at is None and due:
            model.admitted_at = self.clock.now
        # Redis keeps times to 14 significant digits (Lua's numbers as text): 0.1 ms here.
        assert place.admitted_at == pytest.approx(model.admitted_at, abs=1e-3)

    @invariant()
    def the_gate_agrees_with_the_model(self) -> None:
        self.model_advance()
        gate = self.stores[0].gate("r")
        assert gate.joined == len(self.places)
        assert gate.frontier == pytest.approx(self.frontier)
        assert gate.frontier <= self.integral + 1e-6  # admitted <= integral of rate dt since opening
        assert gate.frontier <= gate.joined
        assert gate.passes == sum(t.admitted_at is not None for t in self.places.values())

    @invariant()
    def nobody_is_admitted_out_of_order(self) -> None:
        admitted = [self.places[t].admitted_at is not None for t in self.order()]
        seen_waiting = False
        for flag, place_id in zip(admitted, self.order(), strict=True):
            # A place admitted after one ahead of it is still waiting would be out of order;
            # one ahead that simply has not looked yet is within the frontier too.
            if not flag and self.order().index(place_id) + 1 > int(self.frontier + 1e-9):
                seen_waiting = True
            assert not (flag and seen_waiting)


class RedisQueueMachine(QueueMachine):
    def make_stores(self) -> list[QueueStore]:
        prefix = self.resources.enter_context(redis_prefix())
        return [RedisQueueStore(redis_client(), prefix, clock=self.clock) for _ in range(2)]


QueueMachine.TestCase.settings = machine_settings(max_examples=60, stateful_step_count=40)
RedisQueueMachine.TestCase.settings = QueueMachine.TestCase.settings
TestQueueInProcess = QueueMachine.TestCase
TestQueueInRedis = RedisQueueMachine.TestCase
