"""Deciding a batch of booking requests: each request applied to its tier in turn, the
answer for each, and the recording that makes the answers true (``BatchDecision``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore

from application.booking.expiring import PendingExpiry, decide_expiry
from application.booking.group_commit import Pending, PendingBooking, PendingOrder
from application.booking.paying import Finder, PendingPayment, Seen, decide_payment
from application.booking.receipts import BookingReceipt, OrderReceipt
from application.errors import IdempotencyKeyReusedError, TierNotFoundError
from application.payments.opening import opened_payment
from domain.bookings import Booking, BookingStatus, BookingSummary
from domain.errors import LedgerError
from domain.orders import Order, order_booking_id
from domain.payments import Match
from domain.tiers import TicketTier

Outcome = BookingReceipt | OrderReceipt | Match | BookingSummary | LedgerError
# What a batch decides: bookings, holds, orders, payments, expiries.
Batched = Pending | PendingPayment | PendingExpiry


class Aggregates(Finder, Protocol):
    """What deciding reads: the aggregates as they are now (fresh copies, to change)."""

    def find_tier(self, code: str) -> TicketTier | None: ...

    def find_booking(self, booking_id: UUID) -> Booking | None: ...

    def find_order(self, order_id: UUID) -> Order | None: ...


@dataclass(eq=False)  # one decision is one attempt: compared by identity
class BatchDecision:
    outcomes: list[Outcome]  # one per request, in the batch's order
    tiers: list[TicketTier]  # the tiers the decision changes
    bookings: list[Booking]  # the bookings it creates
    orders: list[Order] = field(default_factory=list)  # the orders it records
    changed: list[Aggregate] = field(default_factory=list)  # payments opened and received, holds paid
    witnesses: list[Any] = field(init=False)  # what only it records, kept past ``save``

    def __post_init__(self) -> None:
        """Its tiers' events witness the recording; with no tier changed (only late payments,
        say), its payments' events do, each as unique to it as a tier's."""
        payments = [aggregate for aggregate in self.changed if not isinstance(aggregate, Booking)]
        witnesses: list[Aggregate] = [*self.tiers] or payments
        self.witnesses = [event for aggregate in witnesses for event in aggregate.pending_events]

    @property
    def records(self) -> list[Aggregate]:
        """Everything it records, in one recording."""
        return [*self.tiers, *self.bookings, *self.orders, *self.changed]

    @classmethod
    def refused(cls, size: int, error: LedgerError) -> BatchDecision:
        """Every request of a batch of ``size`` answered with ``error``, nothing recorded."""
        return cls([error] * size, [], [])

    def is_stored_in(self, events: EventStore[UUID]) -> bool:
        """Whether the store holds exactly this decision's witness events (its tiers') at the
        versions it wrote them. Then its whole recording is stored, bookings too: they are
        saved in one transaction with the tiers' events. No other recording can match: every
        event carries the microsecond it was decided at, with its booking id, so a recording
        another process made, even of bookings with the same idempotency keys, does not."""
        if not self.witnesses:
            return False
        for originator_id in dict.fromkeys(event.originator_id for event in self.witnesses):
            mine = [event for event in self.witnesses if event.originator_id == originator_id]
            stored = events.get(originator_id, gt=mine[0].originator_version - 1, lte=mine[-1].originator_version)
            if list(stored) != mine:
                return False
        return True


def decide(batch: list[Batched], aggregates: Aggregates, now: datetime) -> BatchDecision:
    """Apply each request to its tiers in turn, each tier read once, at ``now`` (for the
    tiers' sale windows). A refused request (no such tier, not enough left) gets its own
    error; the others still go through. A request whose key an earlier request of the batch
    used gets that one's answer; a retried one (its booking or order exists) gets it as it
    is now. A hold on a paid tier opens its payment; money for a payment confirms its hold
    (``paying.py``); a hold due expires (``expiring.py``)."""
    tiers: dict[str, TicketTier | None] = {}  # None: no such tier
    seen = Seen(aggregates)
    outcomes: list[Outcome] = []
    bookings: list[Booking] = []
    orders: list[Order] = []
    firsts: dict[UUID, tuple[Pending, int]] = {}  # booking or order id -> its first request in the batch, its index
    for index, pending in enumerate(batch):
        for code in pending.tiers:
            if code not in tiers:
                tiers[code] = aggregates.find_tier(code)
        if isinstance(pending, PendingPayment):  # applied once by its provider id, never a twin or a retry
            outcomes.append(decide_payment(tiers[pending.tier], pending, seen, now))
            continue
        if isinstance(pending, PendingExpiry):  # done once: a hold that ended is refused
            outcomes.append(decide_expiry(tiers[pending.tier], pending, seen, now))
            continue
        first, at = firsts.setdefault(pending.booking_id, (pending, index))
        if first is not pending:
            outcomes.append(twin(pending, first, outcomes[at]))
            continue
        retry = retried(pending, aggregates) if pending.replayable else None
        if retry is not None:
            outcomes.append(retry)
            continue
        if isinstance(pending, PendingOrder):
            outcomes.append(decide_order([tiers[code] for code in pending.tiers], pending, bookings, orders, now))
        else:
            outcomes.append(decide_one(tiers[pending.tier], pending, bookings, seen, now))
    changed = [tier for tier in tiers.values() if tier is not None and tier.pending_events]
    return BatchDecision(outcomes, changed, bookings, orders, list(seen.changed.values()))


def decide_one(
    tier: TicketTier | None, pending: PendingBooking, bookings: list[Booking], seen: Seen, now: datetime
) -> Outcome:
    """The answer to one request: a receipt (its booking added to ``bookings``, a paid
    hold's payment to ``seen``'s changes) or why not."""
    if tier is None:
        return TierNotFoundError(f"No tier {pending.tier!r}.")
    try:
        booking = take(tier, pending, now)
    except LedgerError as refused:
        return refused
    bookings.append(booking)
    if tier.payment_terms is not None:
        seen.record(opened_payment(tier, booking))
    return BookingReceipt(
        pending.booking_id, tier.code, pending.quantity, tier.available, booking.status, booking.expires_at
    )


def decide_order(
    found: list[TicketTier | None], pending: PendingOrder, bookings: list[Booking], orders: list[Order], now: datetime
) -> Outcome:
    """All of an order or none: every tier checks its item (for this user, now) before any
    sells, so a refusal leaves every tier as it was. Its tiers are distinct (``check_items``)."""
    for (code, _), tier in zip(pending.items, found, strict=True):
        if tier is None:
            return TierNotFoundError(f"No tier {code!r}.")
    tiers = [tier for tier in found if tier is not None]
    try:
        for tier, (_, quantity) in zip(tiers, pending.items, strict=True):
            tier.check_can_take(pending.user_id, quantity, now, outright=True)
    except LedgerError as refused:
        return refused
    for n, (tier, (_, quantity)) in enumerate(zip(tiers, pending.items, strict=True)):
        booking_id = order_booking_id(pending.booking_id, n)
        tier.book(booking_id, pending.user_id, quantity, now)
        bookings.append(Booking.confirm(booking_id, pending.user_id, tier.code, quantity))
    order = Order.place(pending.booking_id, pending.user_id, list(pending.items))
    orders.append(order)
    return order_receipt(order, [BookingStatus.CONFIRMED] * len(tiers), tiers)


def order_receipt(order: Order, statuses: list[BookingStatus], tiers: list[TicketTier]) -> OrderReceipt:
    items = zip(order.booking_ids(), order.items, statuses, tiers, strict=True)
    return OrderReceipt(
        order.id,
        order.user_id,
        tuple(
            BookingReceipt(booking_id, code, qty, tier.available, status)
            for booking_id, (code, qty), status, tier in items
        ),
    )


def current_receipt(order: Order, aggregates: Aggregates) -> OrderReceipt:
    """An order with each of its bookings' status and its tiers' availability now."""
    bookings = [aggregates.find_booking(booking_id) for booking_id in order.booking_ids()]
    tiers = [aggregates.find_tier(code) for code, _ in order.items]
    if None in bookings or None in tiers:  # cannot be: an order is recorded with them
        raise RuntimeError(f"order {order.id} is stored without its bookings or tiers")
    return order_receipt(order, [b.status for b in bookings if b], [t for t in tiers if t])


def take(tier: TicketTier, pending: PendingBooking, now: datetime) -> Booking:
    """Sell or hold the tickets on the tier, or raise; return the new booking. A hold on
    a tier that takes payment lasts the tier's time to pay from ``now``."""
    if pending.expires_at is None:
        tier.book(pending.booking_id, pending.user_id, pending.quantity, now)
        return Booking.confirm(pending.booking_id, pending.user_id, tier.code, pending.quantity)
    terms = tier.payment_terms
    expires_at = pending.expires_at if terms is None else now + timedelta(seconds=terms.seconds_to_pay)
    tier.hold(pending.booking_id, pending.user_id, pending.quantity, expires_at, now)
    return Booking.hold(pending.booking_id, pending.user_id, tier.code, pending.quantity, expires_at)


def retried(pending: Pending, aggregates: Aggregates) -> Outcome | None:
    """A retried request: what its key made before (as it is now), if it asks for the same;
    None if its key made nothing yet."""
    if isinstance(pending, PendingOrder):
        order = aggregates.find_order(pending.booking_id)
        if order is None:
            return None
        if (order.user_id, tuple(order.items)) != pending.asks_for():
            return key_reused()
        return current_receipt(order, aggregates)
    booking = aggregates.find_booking(pending.booking_id)
    if booking is None:
        return None
    made = (booking.user_id, booking.tier, booking.quantity, booking.expires_at is not None)
    if made != pending.asks_for():
        return key_reused()
    tier = aggregates.find_tier(booking.tier)
    available = tier.available if tier is not None else 0
    return BookingReceipt(booking.id, booking.tier, booking.quantity, available, booking.status, booking.expires_at)


def twin(pending: Pending, first: Pending, outcome: Outcome) -> Outcome:
    """A request sent twice at once: the first one's outcome, if it asks for the same."""
    if type(first) is not type(pending) or first.asks_for() != pending.asks_for():
        return key_reused()
    return outcome


def key_reused() -> IdempotencyKeyReusedError:
    return IdempotencyKeyReusedError("This Idempotency-Key was used for a different booking request.")
