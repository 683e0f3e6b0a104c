"""The audit's replay names the first event that breaks an invariant."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from uuid import uuid4

from application.audit import Replay
from domain.tiers import TicketTier, tier_id

NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)
VIP = tier_id("VIP")


def created(capacity: int = 2):
    return TicketTier.Created(originator_id=VIP, originator_version=1, timestamp=NOW, originator_topic="domain.tiers:TicketTier",
                              code="VIP", price=Decimal("1.00"), capacity=capacity, per_user_limit=None)


def booked(version: int, booking_id, quantity: int = 1):
    return TicketTier.TicketsBooked(originator_id=VIP, originator_version=version, timestamp=NOW,
                                    booking_id=booking_id, user_id="u", quantity=quantity)


def released(version: int, booking_id, quantity: int = 1):
    return TicketTier.TicketsReleased(originator_id=VIP, originator_version=version, timestamp=NOW,
                                      booking_id=booking_id, quantity=quantity, user_id=None)


def replay(*events) -> Replay:
    r = Replay()
    for event in events:
        r.apply(event)
    return r


def test_a_sound_history_has_no_problems_and_running_figures():
    b = uuid4()
    r = Replay()
    lines = [r.apply(e) for e in (created(2), booked(2, b, 2), released(3, b, 2))]
    assert [(l.version, l.sold, l.available, l.available_change) for l in lines] == [(1, 0, 2, 2), (2, 2, 0, -2), (3, 0, 2, 2)]
    assert r.problems == [] and r.confirmed == {}


def test_a_gap_in_versions_is_named():
    assert [p.version for p in replay(created(), booked(3, uuid4())).problems] == [3]


def test_overselling_is_named_at_the_event_that_did_it():
    problems = replay(created(1), booked(2, uuid4()), booked(3, uuid4())).problems
    assert [(p.version, p.message) for p in problems] == [(3, "available is -1 after TicketsBooked")]


def test_a_booking_sold_twice_or_cancelled_twice_is_named():
    b = uuid4()
    problems = replay(created(5), booked(2, b), booked(3, b), released(4, b), released(5, b)).problems
    assert [p.version for p in problems] == [3, 5]


def test_a_release_that_does_not_match_its_booking_is_named():
    b = uuid4()
    problems = replay(created(5), booked(2, b, 2), released(3, b, 1)).problems
    assert [p.version for p in problems] == [3] and "booked 2" in problems[0].message
