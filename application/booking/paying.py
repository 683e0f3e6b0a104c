"""Money for a paid hold, decided in a batch (``batch.py``) with its tier's other requests.

Receiving the money of a hold confirms the hold on its tier, so a payment changes the hot
tier as a booking does. Decided as a command of its own, each payment raced the batches
and every other payment of the tier for the tier's next version, and lost most rounds. In
a batch it is one more request: the tier read once for all of them, the payment's
``Received``, its booking's and the tier's confirmation recorded in the batch's one
recording, all or nothing (docs/payments.md, "A hot paid sale").

A batch reads each booking and payment once (``Seen``): a second payment of the same
batch for the same hold sees the first one applied (``applied`` or ``duplicate``), never the
hold still unpaid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.booking.group_commit import Waiting
from application.errors import PaymentNotFoundError
from domain.bookings import Booking, BookingStatus
from domain.errors import LedgerError
from domain.payments import Incoming, Match, Payment, match_payment
from domain.tiers import TicketTier

A = TypeVar("A", bound=Aggregate)

# What else to record with a payment's decision: a bank credit keeps its match beside it.
# It may refuse (raise a ``LedgerError``): then nothing of the payment is recorded.
Beside = Callable[[Match, Payment | None], Sequence[Aggregate]]


@dataclass(eq=False)
class PendingPayment(Waiting):
    """Money for a payment, waiting for its batch; its tier, booking and payment as the
    payment named them when it was first read (they never change)."""

    tier: str
    booking: UUID
    payment: UUID
    incoming: Incoming
    beside: Beside | None = None

    @property
    def tiers(self) -> tuple[str, ...]:
        return (self.tier,)

    @property
    def reads(self) -> tuple[UUID, UUID]:
        """What its decision reads beside the tier (read ahead with it, where cached)."""
        return self.booking, self.payment


class Finder(Protocol):
    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None: ...


class Seen:
    """The bookings and payments a batch decided on, each read once, and those it changed
    (in the order changed, each once), to be recorded with its tiers."""

    def __init__(self, finder: Finder) -> None:
        self.finder = finder
        self.read: dict[UUID, Aggregate | None] = {}
        self.changed: dict[UUID, Aggregate] = {}

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        if aggregate_id not in self.read:
            self.read[aggregate_id] = self.finder.find(aggregate_id, kind)
        found = self.read[aggregate_id]
        return found if isinstance(found, kind) else None

    def record(self, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            self.read[aggregate.id] = self.changed[aggregate.id] = aggregate


def decide_payment(tier: TicketTier | None, pending: PendingPayment, seen: Seen, now: datetime) -> Match | LedgerError:
    """What the money is to its payment (``match_payment``) at ``now``, and its effect on
    the payment, booking and tier, recorded with whatever ``beside`` adds; or why not.

    The booking is read before the payment, in the order they change: a payment is then at
    least as recent as its booking, so a hold just confirmed by this very payment (sent
    twice at once, to two processes) is seen with it applied, never taken for a hold that
    ended before its money came."""
    booking = seen.find(pending.booking, Booking)
    payment = seen.find(pending.payment, Payment)
    if tier is None or booking is None or payment is None:  # cannot be: a payment names both
        return PaymentNotFoundError(f"Payment {pending.payment} has no hold to pay.")
    active = booking.status == BookingStatus.HELD and not (booking.expires_at and now >= booking.expires_at)
    money = pending.incoming
    match = match_payment(payment, active, money.amount, money.currency, money.provider_id)
    try:  # first: a refusal leaves the batch's aggregates as they were
        beside = list(pending.beside(match, payment)) if pending.beside else []
    except LedgerError as refused:
        return refused
    if match == Match.PAID:  # the money first: no ticket is confirmed before it (verify's clock)
        payment.receive(money.amount, money.currency, money.method, money.provider_id)
        booking.confirm_hold(booking.user_id, now)
        tier.confirm_hold(booking.id, booking.quantity, paid=True)
        seen.record(booking, payment)
    elif match == Match.LATE:  # received, and given back whole: the seats are no longer its
        payment.receive(money.amount, money.currency, money.method, money.provider_id)
        payment.request_refund(money.amount, "late")
        seen.record(payment)
    seen.record(*beside)
    return match
