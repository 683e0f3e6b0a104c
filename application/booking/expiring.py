"""A hold's expiry, decided in a batch (``batch.py``) with its tier's other requests.

Expiring a hold gives its seats back on its tier. As a command of its own it raced the
sale's batches for the tier's next version and, on a hot tier, lost round after round: the
seats of unpaid holds came back seconds after their deadline, or on a later tick. In a
batch it waits for the tier's turn like any other request (across processes too:
``turns.py``), and the holds due together (``projections/hold_expiry.py`` sends them at
once) share one recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from application.booking.group_commit import Waiting
from application.booking.paying import Seen
from application.errors import no_booking
from domain.bookings import Booking, BookingSummary
from domain.errors import LedgerError
from domain.tiers import TicketTier


@dataclass(eq=False)
class PendingExpiry(Waiting):
    """A hold to expire, waiting for its batch; its tier as the hold named it."""

    tier: str
    booking: UUID

    @property
    def tiers(self) -> tuple[str, ...]:
        return (self.tier,)

    @property
    def reads(self) -> tuple[UUID, ...]:
        """What its decision reads beside the tier (read ahead with it, where cached)."""
        return (self.booking,)


def decide_expiry(
    tier: TicketTier | None, pending: PendingExpiry, seen: Seen, now: datetime
) -> BookingSummary | LedgerError:
    """The hold expired at ``now`` and its seats given back on the tier (or offered to its
    waiting list); or why not: confirmed, released or expired first, or not due yet."""
    booking = seen.find(pending.booking, Booking)
    if tier is None or booking is None:
        return no_booking(pending.booking)
    try:
        booking.expire(now)
    except LedgerError as refused:
        return refused
    tier.release_hold(booking.id, booking.user_id, booking.quantity, reason=booking.status, now=now)
    seen.record(booking)
    return booking.summary()
