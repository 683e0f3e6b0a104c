"""The ``BookingLedger`` application: create tiers, book, cancel, and read aggregates.

Every command follows the same shape: get the aggregates, let the domain decide, then
``save`` everything the decision changed in *one* atomic recording. If another writer
recorded the tier's next version first, the store refuses the whole recording with an
``IntegrityError``; the command then reloads and decides again, a bounded number of
times with jittered back-off, and finally gives up with ``LedgerBusyError`` (nothing
recorded, never a silent loss).

Configuration comes from the application's environment: the constructor's ``env``,
then the OS environment, then ``BookingLedger.env`` below (the library's own order).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, InfrastructureFactory
from eventsourcing.utils import Environment

from application.errors import (
    BookingNotFoundError,
    LedgerBusyError,
    TierAlreadyExistsError,
    TierNotFoundError,
)
from application.storage import prepare_store
from domain.bookings import Booking
from domain.tiers import TicketTier, tier_id

T = TypeVar("T")


@dataclass(frozen=True)
class TierDetails:
    code: str
    price: Decimal
    capacity: int
    sold: int
    available: int
    version: int


@dataclass(frozen=True)
class BookingReceipt:
    booking_id: UUID
    tier: str
    quantity: int
    remaining: int
    status: str


@dataclass(frozen=True)
class BookingDetails:
    booking_id: UUID
    user_id: str
    tier: str
    quantity: int
    status: str
    created_at: datetime
    updated_at: datetime


class BookingLedger(Application):
    """The event-sourced write side: tiers and bookings, nothing else."""

    name = "BookingLedger"
    env: ClassVar[dict[str, str]] = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": "var/ledger.sqlite3",
        # The cache keeps hot tiers in memory; fast-forward (the library's default)
        # reads any newer events from the store on every get, so other processes'
        # writes are never missed.
        "AGGREGATE_CACHE_MAXSIZE": "1000",
        "BOOKING_MAX_ATTEMPTS": "40",
        "BOOKING_BACKOFF_CAP_MS": "50",
    }

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        prepare_store(env)
        return super().construct_factory(env)

    # Commands.

    def create_tier(self, code: str, price: Decimal, capacity: int) -> TierDetails:
        """Create a tier; raise ``TierAlreadyExistsError`` if the code is taken."""
        tier = TicketTier.open(code, price, capacity)
        try:
            self.save(tier)
        except IntegrityError:
            raise TierAlreadyExistsError(f"Tier {code!r} exists already.") from None
        return self._tier_details(tier)

    def ensure_tier(self, code: str, price: Decimal, capacity: int) -> bool:
        """Create the tier unless it exists; safe when several processes race.

        Returns whether this call created it. The tier's id is derived from its code,
        so a racing creator's ``save`` conflicts on version 1 and loses cleanly.
        """
        if tier_id(code) in self.repository:
            return False
        try:
            self.create_tier(code, price, capacity)
        except TierAlreadyExistsError:
            return False
        return True

    def add_capacity(self, code: str, quantity: int) -> TierDetails:
        def attempt() -> TierDetails:
            tier = self._get_tier(code)
            tier.add_capacity(quantity)
            self.save(tier)
            return self._tier_details(tier)

        return self._retrying(attempt)

    def book(self, user_id: str, tier_code: str, quantity: int) -> BookingReceipt:
        """Sell tickets to a user: the tier's sale and the new booking in one recording."""
        booking_id = uuid4()

        def attempt() -> BookingReceipt:
            tier = self._get_tier(tier_code)
            tier.book(booking_id, user_id, quantity)
            booking = Booking.confirm(booking_id, user_id, tier.code, quantity)
            self.save(tier, booking)
            return BookingReceipt(booking_id, tier.code, quantity, tier.available, booking.status)

        return self._retrying(attempt)

    def cancel(self, booking_id: UUID, user_id: str) -> BookingDetails:
        """Cancel a user's booking and release its tickets, in one recording."""

        def attempt() -> BookingDetails:
            booking = self._get_booking(booking_id)
            booking.cancel(user_id)
            tier = self._get_tier(booking.tier)
            tier.release(booking.id, booking.quantity)
            self.save(tier, booking)
            return self._booking_details(booking)

        return self._retrying(attempt)

    # Queries of the current aggregate state (strongly consistent).

    def get_tier(self, code: str) -> TierDetails:
        return self._tier_details(self._get_tier(code))

    def get_booking(self, booking_id: UUID) -> BookingDetails:
        return self._booking_details(self._get_booking(booking_id))

    # Helpers.

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it records without an optimistic-concurrency conflict."""
        max_attempts = int(self.env.get("BOOKING_MAX_ATTEMPTS", "40"))
        cap = int(self.env.get("BOOKING_BACKOFF_CAP_MS", "50")) / 1000
        for n in range(max_attempts):
            try:
                return attempt()
            except IntegrityError:
                # "Full jitter" back-off: spreads the losers of a race apart.
                time.sleep(random.uniform(0, min(cap, 0.001 * 2**n)))
        raise LedgerBusyError(f"Gave up after {max_attempts} conflicting attempts; retry later.")

    def _get_tier(self, code: str) -> TicketTier:
        try:
            return self.repository.get(tier_id(code))
        except AggregateNotFoundError:
            raise TierNotFoundError(f"No tier {code!r}.") from None

    def _get_booking(self, booking_id: UUID) -> Booking:
        try:
            booking = self.repository.get(booking_id)
        except AggregateNotFoundError:
            booking = None
        if not isinstance(booking, Booking):  # e.g. a tier's id passed as a booking id
            raise BookingNotFoundError(f"No booking {booking_id}.")
        return booking

    @staticmethod
    def _tier_details(tier: TicketTier) -> TierDetails:
        return TierDetails(tier.code, tier.price, tier.capacity, tier.sold, tier.available, tier.version)

    @staticmethod
    def _booking_details(booking: Booking) -> BookingDetails:
        return BookingDetails(
            booking.id, booking.user_id, booking.tier, booking.quantity, booking.status,
            booking.created_on, booking.modified_on,
        )
