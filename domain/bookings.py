"""The booking: one event-sourced aggregate per customer booking.

A booking is always saved in the same recording as the tier event that sold (or
released) its tickets, so neither can exist without the other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import BookingAlreadyCancelledError, NotBookingOwnerError
from domain.tiers import check_quantity

CONFIRMED = "confirmed"
CANCELLED = "cancelled"


def idempotent_booking_id(user_id: str, idempotency_key: str) -> UUID:
    """The id a user's booking made with an idempotency key always gets, so a retried
    request names the same booking and the store's uniqueness refuses a second one."""
    return uuid5(NAMESPACE_URL, "booking:" + json.dumps([user_id, idempotency_key]))


@dataclass(frozen=True)
class BookingSummary:
    """A booking as the outside world sees it, read from the aggregate (write side)
    or from the bookings table (read side)."""

    booking_id: UUID
    user_id: str
    tier: str
    quantity: int
    status: str
    created_at: datetime
    updated_at: datetime


class Booking(Aggregate):
    """A user's confirmed tickets on one tier, until cancelled."""

    class Confirmed(Aggregate.Created):
        user_id: str
        tier: str
        quantity: int

    class Cancelled(Aggregate.Event):
        pass

    @classmethod
    def confirm(cls, booking_id: UUID, user_id: str, tier: str, quantity: int) -> Booking:
        """Create a confirmed booking with the id the tier's sale event refers to."""
        check_quantity(quantity)
        return cls._create(cls.Confirmed, id=booking_id, user_id=user_id, tier=tier, quantity=quantity)

    @event(Confirmed)
    def __init__(self, user_id: str, tier: str, quantity: int) -> None:
        self.user_id = user_id
        self.tier = tier
        self.quantity = quantity
        self.status = CONFIRMED

    def cancel(self, user_id: str) -> None:
        """Cancel on behalf of ``user_id``, who must own the booking; only once."""
        if user_id != self.user_id:
            raise NotBookingOwnerError(f"Booking {self.id} belongs to another user.")
        if self.status == CANCELLED:
            raise BookingAlreadyCancelledError(f"Booking {self.id} is already cancelled.")
        self._cancel()

    @event(Cancelled)
    def _cancel(self) -> None:
        self.status = CANCELLED

    def summary(self) -> BookingSummary:
        return BookingSummary(
            self.id, self.user_id, self.tier, self.quantity, self.status, self.created_on, self.modified_on
        )
