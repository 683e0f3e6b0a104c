"""Buying through the waiting room (``application/waiting_room/checkout.py``), as every entry
point buys, on both stores and both queue stores: while a room is on for a tier, booking,
holding or ordering it needs the buyer's pass and records nothing without one; an admitted
buyer's purchase is timed for the automatic rate, refused or not, and never failed by it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from application import BookingLedger
from application.errors import QueuePassRequiredError
from application.waiting_room.admission_rate import PERIOD_SECONDS, bucket_of
from application.waiting_room.checkout import Checkout
from application.waiting_room.rooms import WaitingRoomService
from domain.errors import InsufficientTicketsError
from tests.integration.test_waiting_rooms import admitted_pass, clock, rooms, sold_out, turn_on  # noqa: F401
from tests.queue_stores import FakeClock, queue_kind  # noqa: F401


class Stopwatch:
    """Each reading 12 ms after the last: every purchase timed takes 12 ms."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.012
        return self.now


@pytest.fixture
def ledger(store_env: dict[str, str]) -> Iterator[BookingLedger]:
    with BookingLedger(env=store_env) as ledger:
        ledger.create_tier("VIP", Decimal("100.00"), 10)
        ledger.create_tier("GA", Decimal("10.00"), 10)
        yield ledger


@pytest.fixture
def checkout(ledger: BookingLedger, rooms: WaitingRoomService) -> Checkout:
    return Checkout(ledger, rooms, clock=Stopwatch())


def timed(rooms: WaitingRoomService) -> dict[int, int]:
    """The admitted purchases counted in this period, by latency bucket."""
    room = rooms.status()
    assert room is not None
    return rooms.store.latencies(room.room_id, int(rooms.clock() // PERIOD_SECONDS))


def test_with_no_room_on_nothing_needs_a_pass(checkout: Checkout, ledger: BookingLedger):
    checkout.book("ann", "VIP", 1, None, None)
    checkout.hold("ann", "VIP", 1, None, None)
    checkout.order("ann", [("VIP", 1), ("GA", 2)], None, None)
    assert (ledger.get_tier("VIP").sold, ledger.get_tier("VIP").held, ledger.get_tier("GA").sold) == (2, 1, 2)


def test_while_a_room_is_on_its_tiers_need_the_pass_and_nothing_is_recorded_without_it(
    checkout: Checkout, ledger: BookingLedger, rooms: WaitingRoomService
):
    turn_on(rooms, tiers=["VIP"])
    position = ledger.recorder.max_notification_id()
    with pytest.raises(QueuePassRequiredError):
        checkout.book("ann", "VIP", 1, None, None)
    with pytest.raises(QueuePassRequiredError):
        checkout.hold("ann", "VIP", 1, None, "not a pass")
    with pytest.raises(QueuePassRequiredError):
        checkout.order("ann", [("GA", 1), ("VIP", 1)], None, None)
    assert ledger.recorder.max_notification_id() == position
    checkout.book("ann", "GA", 1, None, None)  # outside the room
    assert (ledger.get_tier("VIP").sold, ledger.get_tier("GA").sold) == (0, 1)


def test_an_admitted_buyers_purchases_are_timed_refused_or_not(
    checkout: Checkout, ledger: BookingLedger, rooms: WaitingRoomService, clock: FakeClock
):
    turn_on(rooms, tiers=["VIP"])
    queue_pass = admitted_pass(rooms, clock, "ann")
    checkout.book("ann", "VIP", 1, None, queue_pass)
    checkout.order("ann", [("VIP", 1), ("GA", 1)], None, queue_pass)
    with pytest.raises(InsufficientTicketsError):
        checkout.hold("ann", "VIP", 99, None, queue_pass)
    checkout.book("ann", "GA", 1, None, None)  # outside the room: not the room's to time
    assert ledger.get_tier("VIP").sold == 2
    assert timed(rooms) == {bucket_of(12): 3}


def test_a_purchase_whose_timing_fails_is_still_answered(
    checkout: Checkout, ledger: BookingLedger, rooms: WaitingRoomService, clock: FakeClock, monkeypatch, caplog
):
    turn_on(rooms, tiers=["VIP"])
    queue_pass = admitted_pass(rooms, clock, "ann")

    def down(*_: object) -> None:
        raise RedisConnectionError("the queue's store went away")

    monkeypatch.setattr(rooms.store, "count_latency", down)
    receipt = checkout.book("ann", "VIP", 2, None, queue_pass)
    assert (receipt.quantity, ledger.get_tier("VIP").sold) == (2, 2)
    assert any(r.levelno == logging.WARNING and "not timed" in r.getMessage() for r in caplog.records)
