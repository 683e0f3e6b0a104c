"""A batch of booking requests decided against the tiers as they were read: the answer
for each request, and the recording that makes the answers true."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import EventStore

from domain.bookings import Booking
from domain.errors import LedgerError
from domain.tiers import TicketTier

if TYPE_CHECKING:
    from application.booking.ledger import BookingReceipt


@dataclass(eq=False)  # one decision is one attempt: compared by identity
class BatchDecision:
    outcomes: list[BookingReceipt | LedgerError]  # one per request, in the batch's order
    tiers: list[TicketTier]  # the tiers the decision changes
    bookings: list[Booking]  # the bookings it creates
    tier_events: list[Any] = field(init=False)  # what it records on its tiers, kept past ``save``

    def __post_init__(self) -> None:
        self.tier_events = [event for tier in self.tiers for event in tier.pending_events]

    @classmethod
    def refused(cls, size: int, error: LedgerError) -> BatchDecision:
        """Every request of a batch of ``size`` answered with ``error``, nothing recorded."""
        return cls([error] * size, [], [])

    def is_stored_in(self, events: EventStore) -> bool:
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
