"""Audit a tier at the door: every scan recorded on its bookings checked against what the
tier's own events say was sold, and against the ``checkins`` read table.

A ticket is admitted at most once, only while its booking is sold and not cancelled, only for
a seat the booking has; a conflict (an offline gate's second scan) only follows an admission.
The scans are read from the event store by topic, in the order they were recorded.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.utils import get_topic

from domain.bookings import Booking

SCAN_TOPICS = [get_topic(Booking.TicketCheckedIn), get_topic(Booking.ScanConflict)]


def scans_of_tier(app: Application[UUID], code: str) -> list[Any]:
    """The scans on the bookings of tier ``code``, in the order they were recorded."""
    found = app.recorder.select_notifications(1, 10_000_000, topics=SCAN_TOPICS)
    events: list[Any] = [app.mapper.to_domain_event(notification) for notification in found]
    return [event for event in events if event.tier == code]


def door_problems(scans: list[Any], sold: dict[UUID, int], cancelled: set[UUID]) -> list[str]:
    """What does not add up: ``sold`` is each booking's tickets sold on the tier (outright or
    by a confirmed hold), ``cancelled`` the bookings cancelled since."""
    problems = []
    admitted: set[tuple[UUID, int]] = set()
    for scan in scans:
        ticket = (scan.originator_id, scan.seat)
        what = f"booking {scan.originator_id} seat {scan.seat}"
        if scan.originator_id not in sold or not 0 <= scan.seat < sold[scan.originator_id]:
            problems.append(f"{what}: scanned, but the tier sold it no such ticket")
        elif isinstance(scan, Booking.TicketCheckedIn) and ticket in admitted:
            problems.append(f"{what}: admitted twice")
        elif isinstance(scan, Booking.ScanConflict) and ticket not in admitted:
            problems.append(f"{what}: a conflict with no admission before it")
        if scan.originator_id in cancelled:
            problems.append(f"{what}: scanned, and its booking was cancelled")
        if isinstance(scan, Booking.TicketCheckedIn):
            admitted.add(ticket)
    return problems


def door_counts(scans: list[Any]) -> Counter[str]:
    """Admissions and conflicts, as the ``checkins`` table should count them."""
    return Counter("admitted" if isinstance(scan, Booking.TicketCheckedIn) else "conflicts" for scan in scans)
