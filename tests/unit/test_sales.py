"""Sales per minute from a tier's audit lines: each change lands in the minute of its event,
and the sell-out time is when availability last reached zero."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from application.audit.sales import SalesMinute, sales_per_minute
from application.audit.tier_audit import AuditLine

START = datetime(2026, 11, 24, 8, 0, 10, tzinfo=UTC)


def lines(*steps: tuple[int, str, int, int, int, int]) -> list[AuditLine]:
    """(seconds after START, event, capacity, sold, held, available) as audit lines."""
    return [
        AuditLine(version, event, START + timedelta(seconds=seconds), uuid4(), "u", 0, capacity, sold, held, available)
        for version, (seconds, event, capacity, sold, held, available) in enumerate(steps, start=1)
    ]


def minute(offset: int, sold: int = 0, cancelled: int = 0, held: int = 0) -> SalesMinute:
    return SalesMinute(START.replace(second=0) + timedelta(minutes=offset), sold, cancelled, held)


def test_each_sale_cancel_and_hold_counts_in_the_minute_of_its_event():
    history = sales_per_minute(
        "VIP",
        lines(
            (0, "Created", 10, 0, 0, 10),
            (5, "TicketsBooked", 10, 2, 0, 8),
            (20, "TicketsHeld", 10, 2, 3, 5),
            (55, "HoldConfirmed", 10, 5, 0, 5),  # minute 1: the hold's tickets sold, nothing new held
            (70, "TicketsReleased", 10, 3, 0, 7),  # a cancellation
            (75, "TicketsHeld", 10, 3, 1, 6),
            (80, "HoldReleased", 10, 3, 0, 7),  # neither sold nor cancelled
            (200, "CapacityAdded", 10, 3, 0, 12),  # nothing to count: minute 3 is left out
            (250, "TicketsBooked", 12, 4, 0, 11),
        ),
    )
    assert history.minutes == [minute(0, sold=2, held=3), minute(1, sold=3, cancelled=2, held=1), minute(4, sold=1)]
    assert (history.tier, history.version, history.sold_out_at) == ("VIP", 9, None)
    assert sum(m.sold - m.cancelled for m in history.minutes) == 4


def test_sold_out_since_the_event_that_took_the_last_ticket_and_not_before_a_return():
    steps = [
        (0, "Created", 2, 0, 0, 2),
        (10, "TicketsBooked", 2, 2, 0, 0),
        (20, "TicketsReleased", 2, 1, 0, 1),
        (30, "TicketsHeld", 2, 1, 1, 0),
        (40, "SalesClosed", 2, 1, 1, 0),
    ]
    assert sales_per_minute("GA", lines(*steps)).sold_out_at == START + timedelta(seconds=30)
    assert sales_per_minute("GA", lines(*steps[:3])).sold_out_at is None


def test_a_clock_that_steps_back_does_not_split_a_minute():
    history = sales_per_minute(
        "GA",
        lines(
            (0, "Created", 5, 0, 0, 5),
            (65, "TicketsBooked", 5, 1, 0, 4),
            (45, "TicketsBooked", 5, 2, 0, 3),
            (66, "TicketsBooked", 5, 3, 0, 2),
        ),
    )
    assert history.minutes == [minute(0, sold=1), minute(1, sold=2)]


def test_changes_at_any_fraction_of_a_second_add_up_in_their_minute():
    history = sales_per_minute(
        "GA",
        [
            AuditLine(1, "Created", START, None, None, 9, 9, 0, 0, 9),
            AuditLine(2, "TicketsHeld", START + timedelta(seconds=1, microseconds=250), uuid4(), "u", -2, 9, 0, 2, 7),
            AuditLine(3, "TicketsHeld", START + timedelta(seconds=2, microseconds=750), uuid4(), "v", -3, 9, 0, 5, 4),
        ],
    )
    assert history.minutes == [minute(0, held=5)]
