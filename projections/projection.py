"""How each ledger event changes the read tables: one handler per event class."""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from domain.bookings import CANCELLED, CONFIRMED, Booking
from domain.tiers import TicketTier
from projections.views import LedgerView


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

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Events of no interest to the read tables only advance the position."""
        self.view.insert_tracking(tracking)

    @process_event.register
    def tier_created(self, event: TicketTier.Created, tracking: Tracking) -> None:
        self.view.insert_tier(
            tracking, tier_id=str(event.originator_id), tier=event.code,
            price=event.price, capacity=event.capacity,
        )

    @process_event.register
    def tickets_booked(self, event: TicketTier.TicketsBooked, tracking: Tracking) -> None:
        self.view.change_sold(tracking, tier_id=str(event.originator_id), delta=event.quantity)

    @process_event.register
    def tickets_released(self, event: TicketTier.TicketsReleased, tracking: Tracking) -> None:
        self.view.change_sold(tracking, tier_id=str(event.originator_id), delta=-event.quantity)

    @process_event.register
    def capacity_added(self, event: TicketTier.CapacityAdded, tracking: Tracking) -> None:
        self.view.add_capacity(tracking, tier_id=str(event.originator_id), quantity=event.quantity)

    @process_event.register
    def booking_confirmed(self, event: Booking.Confirmed, tracking: Tracking) -> None:
        self.view.insert_booking(
            tracking, booking_id=str(event.originator_id), user_id=event.user_id,
            tier=event.tier, quantity=event.quantity, status=CONFIRMED, at=event.timestamp,
        )

    @process_event.register
    def booking_cancelled(self, event: Booking.Cancelled, tracking: Tracking) -> None:
        self.view.set_booking_status(
            tracking, booking_id=str(event.originator_id), status=CANCELLED, at=event.timestamp
        )
