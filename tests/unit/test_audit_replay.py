"""The audit's replay names the first event that breaks an invariant."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

from application.audit.tier_audit import Replay
from domain.tiers import TicketTier, tier_id

NOW = datetime(2026, 11, 24, tzinfo=UTC)
VIP = tier_id("VIP")


def created(capacity: int = 2):
    return TicketTier.Created(
        originator_id=VIP,
        originator_version=1,
        timestamp=NOW,
        originator_topic="domain.tiers:TicketTier",
        code="VIP",
        price=Decimal("1.00"),
        capacity=capacity,
        per_user_limit=None,
    )


def booked(version: int, booking_id, quantity: int = 1):
    return TicketTier.TicketsBooked(
        originator_id=VIP,
        originator_version=version,
        timestamp=NOW,
        booking_id=booking_id,
        user_id="u",
        quantity=quantity,
    )


def released(version: int, booking_id, quantity: int = 1):
    return TicketTier.TicketsReleased(
        originator_id=VIP,
        originator_version=version,
        timestamp=NOW,
        booking_id=booking_id,
        quantity=quantity,
        user_id=None,
    )


def replay(*events) -> Replay:
    r = Replay()
    for event in events:
        r.apply(event)
    return r


def test_a_sound_history_has_no_problems_and_running_figures():
    b = uuid4()
    r = Replay()
    lines = [r.apply(e) for e in (created(2), booked(2, b, 2), released(3, b, 2))]
    assert [(line.version, line.sold, line.available, line.available_change) for line in lines] == [
        (1, 0, 2, 2),
        (2, 2, 0, -2),
        (3, 0, 2, 2),
    ]
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


def held(version: int, booking_id, quantity: int = 1):
    return TicketTier.TicketsHeld(
        originator_id=VIP,
        originator_version=version,
        timestamp=NOW,
        booking_id=booking_id,
        user_id="u",
        quantity=quantity,
        expires_at=NOW,
    )


def hold_ended(version: int, booking_id, quantity: int = 1, reason: str = "released"):
    return TicketTier.HoldReleased(
        originator_id=VIP,
        originator_version=version,
        timestamp=NOW,
        booking_id=booking_id,
        user_id="u",
        quantity=quantity,
        reason=reason,
    )


def hold_confirmed(version: int, booking_id, quantity: int = 1):
    return TicketTier.HoldConfirmed(
        originator_id=VIP, originator_version=version, timestamp=NOW, booking_id=booking_id, quantity=quantity
    )


class Unheard(TicketTier.Event):
    """An event the audit was not written for."""


def test_each_problem_says_in_words_what_broke():
    b, h, gone = uuid4(), uuid4(), uuid4()
    problems = replay(
        created(9),
        booked(3, b),
        booked(4, b),
        released(5, b),
        released(6, b),
        held(7, h),
        held(8, h),
        hold_confirmed(9, h, 2),
        hold_ended(10, gone),
        Unheard(originator_id=VIP, originator_version=11, timestamp=NOW),
    ).problems
    assert [(p.version, p.message) for p in problems] == [
        (3, "version 3 follows version 1"),
        (4, f"booking {b} is booked a second time"),
        (6, f"booking {b} is cancelled a second time"),
        (8, f"booking {h} is booked a second time"),
        (9, f"hold {h} is confirmed with 2 ticket(s) but holds 1"),
        (10, f"hold {gone} is released with 1 ticket(s) but holds none (not an active hold)"),
        (11, "unknown event Unheard"),
    ]


def test_each_line_names_its_booking_and_what_it_changed_in_the_tickets_available():
    h = uuid4()
    r = Replay()
    lines = [
        r.apply(e)
        for e in (
            created(5),
            held(2, h, 2),
            hold_confirmed(3, h, 2),
            TicketTier.SalesClosed(originator_id=VIP, originator_version=4, timestamp=NOW),
        )
    ]
    assert [(line.event, line.booking_id, line.available_change, line.sold, line.held) for line in lines] == [
        ("Created", None, 5, 0, 0),
        ("TicketsHeld", h, -2, 0, 2),
        ("HoldConfirmed", h, 0, 2, 0),
        ("SalesClosed", None, 0, 2, 0),
    ]
    assert r.problems == []
