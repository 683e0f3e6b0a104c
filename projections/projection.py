"""What each ledger event does to the read tables: one handler per event class.

Handlers only describe row changes; the view applies a whole batch of them, with the
batch's position, in one transaction. That is what lets the read side keep up with
group-committed bookings and replay a long history fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from domain.bookings import CANCELLED, CONFIRMED, Booking
from domain.tiers import TicketTier
from projections.views import (
    ADD_CAPACITY,
    CHANGE_SOLD,
    INSERT_BOOKING,
    INSERT_TIER,
    SET_BOOKING_STATUS,
    LedgerView,
    RowChange,
)


class LedgerProjection(Projection[LedgerView]):
    """Keeps ``availability`` and ``bookings`` in step with the event stream."""

    name = "ledger_read_model"
    topics = tuple(
        get_topic(cls)
        for cls in (
            TicketTier.Created,
            TicketTier.TicketsBooked,
            TicketTier.TicketsReleased,
            TicketTier.CapacityAdded,
            Booking.Confirmed,
            Booking.Cancelled,
        )
    )

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Apply one event after the current position (the library's interface)."""
        after = self.view.max_tracking_id(tracking.application_name) or 0
        self.process_events([(domain_event, tracking.notification_id)], after, tracking)

    def process_events(self, events: Sequence[tuple[Any, int]], after: int, tracking: Tracking) -> None:
        """Apply ``(event, position)`` pairs that follow position ``after``, up to ``tracking``."""
        self.view.apply([self.change(event, position) for event, position in events], after, tracking)

    @singledispatchmethod
    def change(self, event: Any, position: int) -> RowChange:
        raise TypeError(f"{type(event).__qualname__} is not one of {self.name}'s topics")

    @change.register
    def tier_created(self, event: TicketTier.Created, position: int) -> RowChange:
        return RowChange(INSERT_TIER, {
            "tier_id": str(event.originator_id), "tier": event.code, "price": event.price,
            "capacity": event.capacity, "position": position,
        })

    @change.register
    def tickets_booked(self, event: TicketTier.TicketsBooked, position: int) -> RowChange:
        return RowChange(CHANGE_SOLD, {"tier_id": str(event.originator_id), "delta": event.quantity, "position": position})

    @change.register
    def tickets_released(self, event: TicketTier.TicketsReleased, position: int) -> RowChange:
        return RowChange(CHANGE_SOLD, {"tier_id": str(event.originator_id), "delta": -event.quantity, "position": position})

    @change.register
    def capacity_added(self, event: TicketTier.CapacityAdded, position: int) -> RowChange:
        return RowChange(ADD_CAPACITY, {"tier_id": str(event.originator_id), "quantity": event.quantity, "position": position})

    @change.register
    def booking_confirmed(self, event: Booking.Confirmed, position: int) -> RowChange:
        return RowChange(INSERT_BOOKING, {
            "booking_id": str(event.originator_id), "user_id": event.user_id, "tier": event.tier,
            "quantity": event.quantity, "status": CONFIRMED, "at": event.timestamp,
        })

    @change.register
    def booking_cancelled(self, event: Booking.Cancelled, position: int) -> RowChange:
        return RowChange(SET_BOOKING_STATUS, {"booking_id": str(event.originator_id), "status": CANCELLED, "at": event.timestamp})
