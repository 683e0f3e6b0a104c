"""The booking: one event-sourced aggregate per customer booking.

A booking is always saved in the same recording as the tier event that sold, held or
released its tickets, so neither can exist without the other.

A booking starts either ``confirmed`` (booked outright) or ``held`` (the cart pattern:
tickets set aside until ``expires_at``). A hold ends exactly once: confirmed by its
user before it expires, released by its user, or expired by the hold-expiry process.
Each ending is an event on this aggregate, so of a confirm and an expiry that race, the
version check lets exactly one be recorded; the other sees the new status.

Each seat of a confirmed booking is a ticket (``domain.tickets``); its scans at the door
are events here too, so a ticket is admitted once, and a booking with a ticket admitted
is no longer cancelled.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from unicodedata import normalize
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import (
    BookingAlreadyCancelledError,
    BookingCheckedInError,
    BookingNotConfirmedError,
    HoldExpiredError,
    HoldNotActiveError,
    NotBookingOwnerError,
    TicketAlreadyCheckedInError,
    TicketNotValidError,
)
from domain.tickets import Scan
from domain.tiers import TicketTier, check_quantity


class BookingStatus(StrEnum):
    """Where a booking stands. Each value is the text that events (a hold's ending reason),
    the read tables and the API's answers carry, and is equal to it."""

    HELD = "held"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    RELEASED = "released"  # a hold its user gave up
    EXPIRED = "expired"  # a hold whose time came


def idempotent_booking_id(secret: bytes, user_id: str, idempotency_key: str, *scope: str) -> UUID:
    """The id a user's booking made with an idempotency key always gets, so a retried
    request names the same booking and the store's uniqueness refuses a second one.

    An HMAC under the server's ``secret`` (the application provides it): without the
    secret, a known or guessed key does not give the booking's id, and the id looks like
    any other (a random UUID). An order's ``scope`` (``"order"``) gives its key ids of their own."""
    digest = hmac.new(secret, json.dumps([user_id, idempotency_key, *scope]).encode(), hashlib.sha256).digest()
    return UUID(bytes=digest[:16], version=4)


def same_user(one: str, other: str) -> bool:
    """Whether two user ids name one user: equal in Unicode NFC, the form new user ids are
    recorded in, so that a booking recorded before in another form is still its user's."""
    return normalize("NFC", one) == normalize("NFC", other)


@dataclass(frozen=True)
class BookingSummary:
    """A booking as the outside world sees it, read from the aggregate (write side)
    or from the bookings table (read side)."""

    booking_id: UUID
    user_id: str
    tier: str
    quantity: int
    status: BookingStatus
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None  # holds only


class ScanEvent(Aggregate.Event):
    """A scan of seat ``seat``'s ticket at ``gate`` (at ``scanned_at``, the scanner's time for
    a scan uploaded later). Carries the booking's tier and user, so the integration event
    (``ticket.*``) is made from it alone."""

    seat: int
    tier: str
    user_id: str
    gate: str
    scanned_at: datetime
    scan_id: str
    actor: str | None = None  # the door device that scanned; None: the shared scanner token


class Booking(Aggregate):
    """A user's tickets on one tier: held until a time, or confirmed until cancelled."""

    expires_at: datetime | None = None  # class defaults for bookings recorded before holds
    cancelled_with: str | None = None

    class Confirmed(Aggregate.Created):
        user_id: str
        tier: str
        quantity: int

    class Held(Aggregate.Created):
        user_id: str
        tier: str
        quantity: int
        expires_at: datetime

    class HoldConfirmed(Aggregate.Event):
        pass

    class HoldReleased(Aggregate.Event):
        reason: str  # BookingStatus.RELEASED or BookingStatus.EXPIRED, stored as its text

    class Cancelled(Aggregate.Event):
        idempotency_key: str | None  # the cancel request's key, so that its retries succeed
        actor: str | None = None  # staff who cancelled for the user (``domain.staff``); None: the user

    class TicketCheckedIn(ScanEvent):
        """Seat ``seat``'s ticket admitted at ``gate``."""

    class ScanConflict(ScanEvent):
        """A gate that was offline let in a ticket that was admitted already: kept, reported."""

    @classmethod
    def confirm(cls, booking_id: UUID, user_id: str, tier: str, quantity: int) -> Booking:
        """Create a confirmed booking with the id the tier's sale event refers to."""
        check_quantity(quantity)
        return cls._create(cls.Confirmed, id=booking_id, user_id=user_id, tier=tier, quantity=quantity)

    @classmethod
    def hold(cls, booking_id: UUID, user_id: str, tier: str, quantity: int, expires_at: datetime) -> Booking:
        """Create a held booking with the id the tier's ``TicketsHeld`` event refers to."""
        check_quantity(quantity)
        return cls._create(
            cls.Held, id=booking_id, user_id=user_id, tier=tier, quantity=quantity, expires_at=expires_at
        )

    @event(Confirmed)  # ``Held`` creates a booking too, with an ``expires_at``
    def __init__(self, user_id: str, tier: str, quantity: int, expires_at: datetime | None = None) -> None:
        self.user_id = user_id
        self.tier = tier
        self.quantity = quantity
        self.status = BookingStatus.CONFIRMED if expires_at is None else BookingStatus.HELD
        self.expires_at = expires_at
        # Each seat's scans, the first its admission; replaced, never changed in place
        # (the repository's cached copies share it).
        self.scans: dict[int, tuple[Scan, ...]] = {}

    def confirm_hold(self, user_id: str, now: datetime) -> None:
        """Turn the user's active hold into a confirmed booking (again: no change)."""
        self._check_owner(user_id)
        if self.status == BookingStatus.CONFIRMED:
            return
        self._check_active_hold(now)
        self._confirm_hold()

    @event(HoldConfirmed)
    def _confirm_hold(self) -> None:
        self.status = BookingStatus.CONFIRMED

    def release_hold(self, user_id: str, now: datetime) -> None:
        """Give the user's active hold up before it expires (again: no change)."""
        self._check_owner(user_id)
        if self.status == BookingStatus.RELEASED:
            return
        self._check_active_hold(now)
        self._end_hold(reason=BookingStatus.RELEASED)

    def expire(self, now: datetime) -> None:
        """End a hold whose time has come (the hold-expiry process calls this). An
        expired hold is not expired again: the process learns it had nothing to do."""
        if self.status != BookingStatus.HELD or not self._due(now):
            raise HoldNotActiveError(f"Booking {self.id} is {self.status}, not a hold that is due.")
        self._end_hold(reason=BookingStatus.EXPIRED)

    @event(HoldReleased)
    def _end_hold(self, reason: str) -> None:
        self.status = BookingStatus(reason)

    def _due(self, now: datetime) -> bool:
        """Whether the hold's time has come (a booking made outright has no end)."""
        return self.expires_at is not None and now >= self.expires_at

    def _check_active_hold(self, now: datetime) -> None:
        if self.status == BookingStatus.EXPIRED or (self.status == BookingStatus.HELD and self._due(now)):
            ended = self.expires_at.isoformat() if self.expires_at else "its end"
            raise HoldExpiredError(f"Hold {self.id} expired at {ended}.")
        if self.status != BookingStatus.HELD:
            raise HoldNotActiveError(f"Booking {self.id} is {self.status}, not held.")

    def cancel(self, user_id: str, idempotency_key: str | None = None, actor: str | None = None) -> None:
        """Cancel on behalf of ``user_id``, who must own the confirmed booking (by staff:
        ``actor``, for the user); only once, except that a retry with the cancellation's
        own key changes nothing."""
        self._check_owner(user_id)
        cancelled = self.status == BookingStatus.CANCELLED
        if cancelled and idempotency_key is not None and idempotency_key == self.cancelled_with:
            return
        if cancelled:
            raise BookingAlreadyCancelledError(f"Booking {self.id} is already cancelled.")
        if self.status != BookingStatus.CONFIRMED:
            raise BookingNotConfirmedError(
                f"Booking {self.id} is {self.status}; only a confirmed booking is cancelled."
            )
        if self.scans:
            raise BookingCheckedInError(f"Booking {self.id} has a ticket admitted already: it is used.")
        self._cancel(idempotency_key=idempotency_key, actor=actor)

    @event(Cancelled)
    def _cancel(self, idempotency_key: str | None = None, actor: str | None = None) -> None:
        self.status = BookingStatus.CANCELLED
        self.cancelled_with = idempotency_key

    def check_in(self, seat: int, scan: Scan) -> None:
        """Admit seat ``seat``'s ticket, scanned online: only once (a second scan is told
        when and at which gate the first was), and only while the booking is confirmed."""
        self._check_ticket(seat)
        if self._admitted_by(seat, scan):
            return  # the same scan sent again (its answer was lost): admitted, by it
        if seat in self.scans:
            raise TicketAlreadyCheckedInError(self.ticket_label(seat), self.scans[seat][0])
        self._admit(seat, self.tier, self.user_id, scan.gate, scan.scanned_at, scan.scan_id, scan.actor)

    def merge_offline_scan(self, seat: int, scan: Scan) -> Scan | None:
        """Record a scan a gate made offline, which let the holder in: the admission if the
        ticket was not admitted yet (``None``), else a conflict, kept and answered with the
        first admission. A scan merged before (``Scan.identity``) records nothing again."""
        self._check_ticket(seat)
        earlier = self.scans.get(seat, ())
        if not earlier:
            self._admit(seat, self.tier, self.user_id, scan.gate, scan.scanned_at, scan.scan_id, scan.actor)
            return None
        if self._admitted_by(seat, scan):
            return None
        if all(kept.identity != scan.identity for kept in earlier):
            self._conflict(seat, self.tier, self.user_id, scan.gate, scan.scanned_at, scan.scan_id, scan.actor)
        return earlier[0]

    def _admitted_by(self, seat: int, scan: Scan) -> bool:
        """Whether seat ``seat``'s ticket was admitted by this very scan (sent again)."""
        return seat in self.scans and self.scans[seat][0].identity == scan.identity

    @event(TicketCheckedIn)
    def _admit(
        self,
        seat: int,
        tier: str,
        user_id: str,
        gate: str,
        scanned_at: datetime,
        scan_id: str,
        actor: str | None = None,
    ) -> None:
        self.scans = {**self.scans, seat: (Scan(gate, scanned_at, scan_id, actor),)}

    @event(ScanConflict)
    def _conflict(
        self,
        seat: int,
        tier: str,
        user_id: str,
        gate: str,
        scanned_at: datetime,
        scan_id: str,
        actor: str | None = None,
    ) -> None:
        self.scans = {**self.scans, seat: (*self.scans[seat], Scan(gate, scanned_at, scan_id, actor))}

    def _check_ticket(self, seat: int) -> None:
        if self.status != BookingStatus.CONFIRMED:
            raise TicketNotValidError(f"Ticket {self.ticket_label(seat)} does not admit: its booking is {self.status}.")
        if not 0 <= seat < self.quantity:
            raise TicketNotValidError(f"Booking {self.id} has no seat {seat}.")

    def ticket_label(self, seat: int) -> str:
        return f"{self.tier} #{seat + 1} of booking {self.id}"

    def belongs_to(self, user_id: str) -> bool:
        return same_user(user_id, self.user_id)

    def _check_owner(self, user_id: str) -> None:
        if not self.belongs_to(user_id):
            raise NotBookingOwnerError(f"No booking '{self.id}'.")  # to a stranger, it is not there

    def summary(self) -> BookingSummary:
        return BookingSummary(
            self.id,
            self.user_id,
            self.tier,
            self.quantity,
            self.status,
            self.created_on,
            self.modified_on,
            self.expires_at,
        )


def offered_holds(tier: TicketTier) -> list[Booking]:
    """The holds of the waiting-list offers ``tier`` is about to record (its pending
    ``OfferMade`` events): each must be recorded in the same recording as its offer."""
    return [
        Booking.hold(offer.booking_id, offer.user_id, tier.code, offer.quantity, offer.expires_at)
        for offer in tier.pending_events
        if isinstance(offer, TicketTier.OfferMade)
    ]
