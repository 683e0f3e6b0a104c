"""What each ledger event does to the read tables: one handler per event class.

Handlers only gather row changes for a page of events; the view writes the page, with
its position, in one transaction and one statement per kind of change. That is what
lets the read side keep up with group-committed bookings and replay history fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.bookings import Booking, BookingStatus
from domain.shows import Show
from domain.tiers import TicketTier
from projections.read_model.views import LedgerView, PageChanges

OFFER_ENDINGS = {
    TicketTier.OfferAccepted: "accepted",
    TicketTier.OfferDeclined: "declined",
    TicketTier.OfferLapsed: "lapsed",
}


class LedgerProjection:
    """Keeps the read tables (``tables.py``) in step with the event stream. Not the
    library's ``Projection``: its ``ProjectionRunner`` applies one event per transaction and
    could not keep up with group-committed bookings; here a page is applied at once
    (``process_events``, from ``projector.py``)."""

    name = "ledger_read_model"
    topics = tuple(
        get_topic(cls)
        for cls in (
            TicketTier.Created,
            TicketTier.TicketsBooked,
            TicketTier.TicketsReleased,
            TicketTier.TicketsHeld,
            TicketTier.HoldConfirmed,
            TicketTier.HoldReleased,
            TicketTier.CapacityAdded,
            TicketTier.PriceChanged,
            TicketTier.SalesClosed,
            TicketTier.JoinedWaitingList,
            TicketTier.LeftWaitingList,
            TicketTier.TicketsKeptForWaitingList,
            TicketTier.TicketsBackOnSale,
            TicketTier.OfferMade,
            TicketTier.OfferAccepted,
            TicketTier.OfferDeclined,
            TicketTier.OfferLapsed,
            Booking.Confirmed,
            Booking.Held,
            Booking.HoldConfirmed,
            Booking.HoldReleased,
            Booking.Cancelled,
            Booking.TicketCheckedIn,
            Booking.ScanConflict,
            Show.Created,
        )
    )

    def __init__(self, view: LedgerView) -> None:
        self.view = view

    def process_events(self, events: Sequence[tuple[Any, int]], after: int, tracking: Tracking) -> None:
        """Apply ``(event, position)`` pairs that follow position ``after``, up to ``tracking``."""
        changes = PageChanges()
        for event, position in events:
            self.change(event, position, changes)
        self.view.apply(changes, after, tracking)

    @singledispatchmethod
    def change(self, event: Any, position: int, changes: PageChanges) -> None:
        raise TypeError(f"{type(event).__qualname__} is not one of {self.name}'s topics")

    @change.register
    def tier_created(self, event: TicketTier.Created, position: int, changes: PageChanges) -> None:
        changes.new_tiers.append(
            {
                "tier_id": str(event.originator_id),
                "tier": event.code,
                "price": event.price,
                "capacity": event.capacity,
                "position": position,
            }
        )

    @change.register
    def tickets_booked(self, event: TicketTier.TicketsBooked, position: int, changes: PageChanges) -> None:
        changes.change_tier(str(event.originator_id), position, sold=event.quantity)

    @change.register
    def tickets_released(self, event: TicketTier.TicketsReleased, position: int, changes: PageChanges) -> None:
        changes.change_tier(str(event.originator_id), position, sold=-event.quantity)

    @change.register
    def tickets_held(self, event: TicketTier.TicketsHeld, position: int, changes: PageChanges) -> None:
        changes.change_tier(str(event.originator_id), position, held=event.quantity)

    @change.register
    def hold_confirmed(self, event: TicketTier.HoldConfirmed, position: int, changes: PageChanges) -> None:
        changes.change_tier(str(event.originator_id), position, held=-event.quantity, sold=event.quantity)

    @change.register
    def hold_released(self, event: TicketTier.HoldReleased, position: int, changes: PageChanges) -> None:
        changes.change_tier(str(event.originator_id), position, held=-event.quantity)

    @change.register
    def capacity_added(self, event: TicketTier.CapacityAdded, position: int, changes: PageChanges) -> None:
        changes.change_tier(str(event.originator_id), position, capacity=event.quantity)

    @change.register
    def price_changed(self, event: TicketTier.PriceChanged, position: int, changes: PageChanges) -> None:
        changes.change_tier(str(event.originator_id), position, price=event.new_price)

    @change.register
    def sales_closed(self, event: TicketTier.SalesClosed, position: int, changes: PageChanges) -> None:
        changes.change_tier(str(event.originator_id), position, closes=True)

    @change.register
    def joined_waiting_list(self, event: TicketTier.JoinedWaitingList, position: int, changes: PageChanges) -> None:
        changes.new_place(event, position)

    @change.register
    def left_waiting_list(self, event: TicketTier.LeftWaitingList, position: int, changes: PageChanges) -> None:
        changes.place_status(event, "left")

    @change.register
    def kept_for_list(self, event: TicketTier.TicketsKeptForWaitingList, position: int, changes: PageChanges) -> None:
        changes.change_tier(str(event.originator_id), position, held=event.quantity)

    @change.register
    def back_on_sale(self, event: TicketTier.TicketsBackOnSale, position: int, changes: PageChanges) -> None:
        changes.change_tier(str(event.originator_id), position, held=-event.quantity)

    @change.register
    def offer_made(self, event: TicketTier.OfferMade, position: int, changes: PageChanges) -> None:
        changes.place_status(event, "offered")  # its tickets stay held; its hold's row comes from ``Booking.Held``

    @change.register
    def offer_ended(self, event: TicketTier.OfferEnded, position: int, changes: PageChanges) -> None:
        changes.place_status(event, OFFER_ENDINGS[type(event)])

    @change.register
    def booking_confirmed(self, event: Booking.Confirmed, position: int, changes: PageChanges) -> None:
        changes.new_booking(event, BookingStatus.CONFIRMED, expires_at=None)

    @change.register
    def booking_held(self, event: Booking.Held, position: int, changes: PageChanges) -> None:
        changes.new_booking(event, BookingStatus.HELD, expires_at=event.expires_at)

    @change.register
    def booking_hold_confirmed(self, event: Booking.HoldConfirmed, position: int, changes: PageChanges) -> None:
        changes.booking_status(event, BookingStatus.CONFIRMED)

    @change.register
    def booking_hold_released(self, event: Booking.HoldReleased, position: int, changes: PageChanges) -> None:
        changes.booking_status(event, BookingStatus(event.reason))

    @change.register
    def booking_cancelled(self, event: Booking.Cancelled, position: int, changes: PageChanges) -> None:
        changes.booking_status(event, BookingStatus.CANCELLED)

    @change.register
    def ticket_checked_in(self, event: Booking.TicketCheckedIn, position: int, changes: PageChanges) -> None:
        changes.scan(event, admitted=True)

    @change.register
    def scan_conflict(self, event: Booking.ScanConflict, position: int, changes: PageChanges) -> None:
        changes.scan(event, admitted=False)

    @change.register
    def show_created(self, event: Show.Created, position: int, changes: PageChanges) -> None:
        changes.new_show(event)
