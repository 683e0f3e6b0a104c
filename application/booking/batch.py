"""Deciding a batch of booking requests: each request applied to its tier in turn, the
answer for each, and the recording that makes the answers true (``BatchDecision``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import EventStore

from application.booking.group_commit import PendingBooking
from application.booking.receipts import BookingReceipt
from application.errors import IdempotencyKeyReusedError, TierNotFoundError
from domain.bookings import Booking
from domain.errors import LedgerError
from domain.tiers import TicketTier

Outcome = BookingReceipt | LedgerError


class Aggregates(Protocol):
    """What deciding reads: the aggregates as they are now (fresh copies, to change)."""

    def find_tier(self, code: str) -> TicketTier | None: ...

    def find_booking(self, booking_id: UUID) -> Booking | None: ...


@dataclass(eq=False)  # one decision is one attempt: compared by identity
class BatchDecision:
    outcomes: list[Outcome]  # one per request, in the batch's order
    tiers: list[TicketTier]  # the tiers the decision changes
    bookings: list[Booking]  # the bookings it creates
    tier_events: list[Any] = field(init=False)  # what it records on its tiers, kept past ``save``

    def __post_init__(self) -> None:
        self.tier_events = [event for tier in self.tiers for event in tier.pending_events]

    @classmethod
    def refused(cls, size: int, error: LedgerError) -> BatchDecision:
        """Every request of a batch of ``size`` answered with ``error``, nothing recorded."""
        return cls([error] * size, [], [])

    def is_stored_in(self, events: EventStore[UUID]) -> bool:
        """Whether the store holds exactly this decision's tier events at the versions it
        wrote them. Then its whole recording is stored, bookings too: they are saved in
        one transaction with the tiers' events. No other recording can match: every event
        carries the microsecond it was decided at, with its booking id, so a recording
        another process made, even of bookings with the same idempotency keys, does not."""
        if not self.tier_events:
            return False
        for tier in self.tiers:
            mine = [event for event in self.tier_events if event.originator_id == tier.id]
            stored = events.get(tier.id, gt=mine[0].originator_version - 1, lte=mine[-1].originator_version)
            if list(stored) != mine:
                return False
        return True


def decide(batch: list[PendingBooking], aggregates: Aggregates) -> BatchDecision:
    """Apply each request to its tier in turn, each tier read once. A refused request (no
    such tier, not enough left) gets its own error; the others still go through. A request
    whose key an earlier request of the batch used gets that one's answer; a retried one
    (its booking exists) gets the booking as it is now."""
    tiers: dict[str, TicketTier | None] = {}  # None: no such tier
    bookings: list[Booking] = []
    outcomes: list[Outcome] = []
    firsts: dict[UUID, int] = {}  # booking id -> index of its first request in the batch
    for index, pending in enumerate(batch):
        first = firsts.setdefault(pending.booking_id, index)
        existing = aggregates.find_booking(pending.booking_id) if pending.replayable and first == index else None
        if first != index:
            outcomes.append(twin(pending, batch[first], outcomes[first]))
        elif existing is not None:
            outcomes.append(retried(pending, existing, aggregates))
        else:
            if pending.tier not in tiers:
                tiers[pending.tier] = aggregates.find_tier(pending.tier)
            outcomes.append(decide_one(tiers[pending.tier], pending, bookings))
    changed = [tier for tier in tiers.values() if tier is not None and tier.pending_events]
    return BatchDecision(outcomes, changed, bookings)


def decide_one(tier: TicketTier | None, pending: PendingBooking, bookings: list[Booking]) -> Outcome:
    """The answer to one request: a receipt (its booking added to ``bookings``) or why not."""
    if tier is None:
        return TierNotFoundError(f"No tier {pending.tier!r}.")
    try:
        booking = take(tier, pending)
    except LedgerError as refused:
        return refused
    bookings.append(booking)
    return BookingReceipt(
        pending.booking_id, tier.code, pending.quantity, tier.available, booking.status, pending.expires_at
    )


def take(tier: TicketTier, pending: PendingBooking) -> Booking:
    """Sell or hold the tickets on the tier, or raise; return the new booking."""
    if pending.expires_at is None:
        tier.book(pending.booking_id, pending.user_id, pending.quantity)
        return Booking.confirm(pending.booking_id, pending.user_id, tier.code, pending.quantity)
    tier.hold(pending.booking_id, pending.user_id, pending.quantity, pending.expires_at)
    return Booking.hold(pending.booking_id, pending.user_id, tier.code, pending.quantity, pending.expires_at)


def retried(pending: PendingBooking, booking: Booking, aggregates: Aggregates) -> Outcome:
    """A retried request: the booking its key made before (as it is now), if it asks for the same."""
    made = (booking.user_id, booking.tier, booking.quantity, booking.expires_at is not None)
    if made != pending.asks_for():
        return key_reused()
    tier = aggregates.find_tier(booking.tier)
    available = tier.available if tier is not None else 0
    return BookingReceipt(booking.id, booking.tier, booking.quantity, available, booking.status, booking.expires_at)


def twin(pending: PendingBooking, first: PendingBooking, outcome: Outcome) -> Outcome:
    """A request sent twice at once: the first one's outcome, if it asks for the same."""
    if first.asks_for() != pending.asks_for():
        return key_reused()
    return outcome


def key_reused() -> IdempotencyKeyReusedError:
    return IdempotencyKeyReusedError("This Idempotency-Key was used for a different booking request.")
