"""A user's bookings as the read tables will show them once they hold every event stored now.

Right after a 201 the booking page lists the user's bookings. On PostgreSQL the read
tables follow the ledger a few tens of milliseconds behind (the projection process polls),
so the list alone could miss the booking just made, on any host. So the user's rows are
read together with the position they are at, and brought up to the store's head with
the booking events after that position (a handful, while the projection keeps up),
mapped by the projection's own handlers: the answer is what the read tables will show
once they catch up. The events read are bounded (``TAIL_LIMIT``): read tables that lag
further than that (the projection process down) give the rows and the first events
after them, a consistent but older view, and ``/ready`` reports the lag.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.bookings import Booking, BookingSummary
from projections.read_model.projector import Projector
from projections.read_model.views import PageChanges

BOOKING_TOPICS = tuple(
    get_topic(cls)
    for cls in (Booking.Confirmed, Booking.Held, Booking.HoldConfirmed, Booking.HoldReleased, Booking.Cancelled)
)
PAGE = 1000
TAIL_LIMIT = 10 * PAGE


def bookings_of_user(projector: Projector, stored_forms: Sequence[str]) -> list[BookingSummary]:
    """The bookings of the user whose id is recorded in any of ``stored_forms``, newest first."""
    position, rows = projector.view.bookings_of_users_at(stored_forms, projector.name)
    changes = PageChanges()
    for event, notification_id in unseen_events(projector, position):
        projector.projection.change(event, notification_id, changes)
    bookings = {booking.booking_id: booking for booking in rows}
    for row in changes.new_bookings:
        if row["user_id"] in stored_forms:
            bookings[UUID(row["booking_id"])] = new_booking(row)
    for row in changes.booking_statuses:
        found = bookings.get(UUID(row["booking_id"]))
        if found is not None:
            bookings[found.booking_id] = replace(found, status=row["status"], updated_at=row["at"])
    by_id = sorted(bookings.values(), key=lambda booking: str(booking.booking_id))
    return sorted(by_id, key=lambda booking: booking.created_at, reverse=True)  # as the table orders them


def unseen_events(projector: Projector, position: int) -> list[tuple[object, int]]:
    """The booking events after ``position``, at most ``TAIL_LIMIT`` of them."""
    app, events = projector.app, []
    while len(events) < TAIL_LIMIT:
        page = app.recorder.select_notifications(position + 1, PAGE, topics=BOOKING_TOPICS)
        events += [(app.mapper.to_domain_event(notification), notification.id) for notification in page]
        if len(page) < PAGE:
            break
        position = page[-1].id
    return events


def new_booking(row: dict) -> BookingSummary:
    at: datetime = row["at"]
    return BookingSummary(
        UUID(row["booking_id"]), row["user_id"], row["tier"], row["quantity"], row["status"], at, at, row["expires_at"]
    )
