"""How each domain event becomes its notices, and the state the mapping keeps between pages.

Each notice is derived **once**, from the tier's domain events: every sale, hold, hold
ending and cancellation is recorded on the tier with its booking id, user and quantity,
in the same recording as the booking's own domain event, which says nothing more.
(Mapping both would announce every booking twice.) The tier's domain events lack two
things, which the mapping keeps as state: the tier's code and figures (for
``tier.sold_out`` and the counts each notice carries) and the user of each open hold
(the tier's ``HoldConfirmed`` has none).

``tier.sold_out`` follows the sale or hold that took the last available ticket
(``availableQuantity`` 0, tickets sold or held). Only a sale or a hold lowers
availability, and none can follow at 0, so it is emitted once per sell-out with no flag
to keep; when tickets come back (a cancellation, a hold ending, more capacity) the next
sell-out emits it again. A tier created with no capacity, or closed, is not "sold out".
Every notice carries the tier's figures after it, so a consumer always knows what is left.

A payment's notices are mapped from the payment's own domain events: ``Opened``
(``payment.awaiting``), ``Received`` (``payment.received``) and ``Refunded``
(``payment.refunded``: money sent back). A refund only *owed* (``RefundRequested``, recorded
with the cancellation) is not announced: the ``booking.cancelled`` beside it says so, and
announcing it too would count one refund twice. ``Received`` and ``Refunded`` do not repeat
the booking, user, tier and currency; those are read from the payment's ``Opened``
(``openings``), which never changes, so the mapping stays a function of history.

Ids and positions are derived, never drawn: the id from the domain event's identity
(its aggregate id and version) and the type, the position from the store's notification
id and the notice's index among those one notification gives (at most two: a notice and
the ``tier.sold_out`` it caused). So replaying history gives identical ids, positions
and bodies, which lets receivers de-duplicate by id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.utils import get_topic

from domain.bookings import Booking, BookingStatus
from domain.payments import Payment
from domain.tickets import ticket_id
from domain.tiers import CENT, TicketTier, tier_id
from projections.integrations.notices import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    HOLD_CONFIRMED,
    HOLD_EXPIRED,
    HOLD_PLACED,
    HOLD_RELEASED,
    PAYMENT_AWAITING,
    PAYMENT_RECEIVED,
    PAYMENT_REFUNDED,
    TICKET_CHECKED_IN,
    TICKET_SCAN_CONFLICT,
    TIER_CAPACITY_ADDED,
    TIER_CREATED,
    TIER_PRICE_CHANGED,
    TIER_SALES_CLOSED,
    TIER_SOLD_OUT,
    WAITING_LIST_ACCEPTED,
    WAITING_LIST_DECLINED,
    WAITING_LIST_LAPSED,
    WAITING_LIST_OFFERED,
    WAITING_LIST_TICKETS_BACK_ON_SALE,
    WAITING_LIST_TICKETS_KEPT,
    Notice,
)

# Positions are notification id × this + index: room for the index, readable in decimal.
PER_NOTIFICATION = 10
NAMESPACE = uuid5(NAMESPACE_URL, "ticketledger:integration-events")
# The domain events the mapping reads: the tier's, all of them, the bookings' scans and the payments' money.
TOPICS = tuple(
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
        TicketTier.TicketsKeptForWaitingList,
        TicketTier.TicketsBackOnSale,
        TicketTier.OfferMade,
        TicketTier.OfferAccepted,
        TicketTier.OfferDeclined,
        TicketTier.OfferLapsed,
        Booking.TicketCheckedIn,
        Booking.ScanConflict,
        Payment.Opened,
        Payment.Received,
        Payment.Refunded,
    )
)
SCANS = (Booking.TicketCheckedIn, Booking.ScanConflict)
MONEY = (Payment.Opened, Payment.Received, Payment.Refunded)
Openings = Mapping[str, Payment.Opened]  # each payment's opening, by payment id
OFFER_ENDINGS = {
    TicketTier.OfferAccepted: WAITING_LIST_ACCEPTED,
    TicketTier.OfferDeclined: WAITING_LIST_DECLINED,
    TicketTier.OfferLapsed: WAITING_LIST_LAPSED,
}


@dataclass
class TierFigures:
    """What the mapping knows of a tier: its code and counts."""

    code: str
    capacity: int
    sold: int = 0
    held: int = 0

    @property
    def available(self) -> int:
        return self.capacity - self.sold - self.held


@dataclass
class MappingState:
    """The state the mapping reads and changes: figures of tiers by tier id, and users of
    open holds by booking id (``closed_holds``: those that ended, to be forgotten)."""

    tiers: dict[str, TierFigures] = field(default_factory=dict)
    hold_users: dict[str, str] = field(default_factory=dict)
    closed_holds: set[str] = field(default_factory=set)

    def open_hold(self, booking_id: str, user_id: str) -> None:
        self.hold_users[booking_id] = user_id
        self.closed_holds.discard(booking_id)

    def close_hold(self, booking_id: str) -> str | None:
        self.closed_holds.add(booking_id)
        return self.hold_users.pop(booking_id, None)


@dataclass(frozen=True)
class Change:
    """What a domain event means publicly, before the tier's figures are added."""

    type: str
    booking_id: UUID | None = None
    user_id: str | None = None
    quantity: int | None = None
    expires_at: datetime | None = None
    ticket_id: UUID | None = None
    gate: str | None = None
    occurred_at: datetime | None = None  # a scan's time; otherwise when it was recorded
    amount: int | None = None
    currency: str | None = None
    reference: str | None = None
    price: Decimal | None = None
    previous_price: Decimal | None = None


def needs(domain_event: Any, openings: Openings) -> tuple[str, str | None]:
    """The state one domain event needs loaded: its tier's id, and the booking id of a hold it ends."""
    if isinstance(domain_event, SCANS):
        return str(tier_id(domain_event.tier)), None
    if isinstance(domain_event, MONEY):
        return str(tier_id(openings[str(domain_event.originator_id)].tier)), None
    ends_hold = isinstance(domain_event, (TicketTier.HoldConfirmed, TicketTier.HoldReleased))
    return str(domain_event.originator_id), str(domain_event.booking_id) if ends_hold else None


class NoticeMapper:
    """Maps the tier's domain events, in store order, to notices, changing
    ``state`` as it goes. ``openings`` holds the opening of each payment whose events it maps."""

    def __init__(self, state: MappingState, openings: Openings | None = None) -> None:
        self.state = state
        self.openings = openings or {}

    def map(self, domain_event: Any, notification_id: int) -> list[Notice]:
        change = self.change(domain_event)
        figures = self.state.tiers[needs(domain_event, self.openings)[0]]
        notices = [self._notice(domain_event, notification_id, 0, change, figures)]
        if change.type in (BOOKING_CONFIRMED, HOLD_PLACED) and figures.available == 0:
            notices.append(self._notice(domain_event, notification_id, 1, Change(TIER_SOLD_OUT), figures))
        return notices

    @staticmethod
    def _notice(domain_event: Any, notification_id: int, index: int, change: Change, figures: TierFigures) -> Notice:
        identity = f"{domain_event.originator_id}/{domain_event.originator_version}/{change.type}"
        return Notice(
            position=notification_id * PER_NOTIFICATION + index,
            id=str(uuid5(NAMESPACE, identity)),
            type=change.type,
            occurred_at=change.occurred_at or domain_event.timestamp,
            tier=figures.code,
            booking_id=str(change.booking_id) if change.booking_id else None,
            user_id=change.user_id,
            quantity=change.quantity,
            expires_at=change.expires_at,
            capacity=figures.capacity,
            sold=figures.sold,
            held=figures.held,
            available=figures.available,
            ticket_id=str(change.ticket_id) if change.ticket_id else None,
            gate=change.gate,
            amount=change.amount,
            currency=change.currency,
            reference=change.reference,
            price=money_text(change.price),
            previous_price=money_text(change.previous_price),
        )

    def _figures(self, domain_event: Any) -> TierFigures:
        return self.state.tiers[str(domain_event.originator_id)]

    @singledispatchmethod
    def change(self, domain_event: Any) -> Change:
        raise TypeError(f"{type(domain_event).__qualname__} maps to no notice")

    @change.register
    def _created(self, domain_event: TicketTier.Created) -> Change:
        self.state.tiers[str(domain_event.originator_id)] = TierFigures(domain_event.code, domain_event.capacity)
        return Change(TIER_CREATED)

    @change.register
    def _booked(self, domain_event: TicketTier.TicketsBooked) -> Change:
        self._figures(domain_event).sold += domain_event.quantity
        return Change(BOOKING_CONFIRMED, domain_event.booking_id, domain_event.user_id, domain_event.quantity)

    @change.register
    def _cancelled(self, domain_event: TicketTier.TicketsReleased) -> Change:
        self._figures(domain_event).sold -= domain_event.quantity
        # user_id is None on cancellations recorded before the tier's domain event carried it
        return Change(BOOKING_CANCELLED, domain_event.booking_id, domain_event.user_id, domain_event.quantity)

    @change.register
    def _held(self, domain_event: TicketTier.TicketsHeld) -> Change:
        self._figures(domain_event).held += domain_event.quantity
        self.state.open_hold(str(domain_event.booking_id), domain_event.user_id)
        return Change(
            HOLD_PLACED, domain_event.booking_id, domain_event.user_id, domain_event.quantity, domain_event.expires_at
        )

    @change.register
    def _hold_confirmed(self, domain_event: TicketTier.HoldConfirmed) -> Change:
        figures = self._figures(domain_event)
        figures.held -= domain_event.quantity
        figures.sold += domain_event.quantity
        user_id = self.state.close_hold(str(domain_event.booking_id))
        return Change(HOLD_CONFIRMED, domain_event.booking_id, user_id, domain_event.quantity)

    @change.register
    def _hold_released(self, domain_event: TicketTier.HoldReleased) -> Change:
        self._figures(domain_event).held -= domain_event.quantity
        self.state.close_hold(str(domain_event.booking_id))
        kind = HOLD_EXPIRED if domain_event.reason == BookingStatus.EXPIRED else HOLD_RELEASED
        return Change(kind, domain_event.booking_id, domain_event.user_id, domain_event.quantity)

    @change.register
    def _capacity_added(self, domain_event: TicketTier.CapacityAdded) -> Change:
        self._figures(domain_event).capacity += domain_event.quantity
        return Change(TIER_CAPACITY_ADDED, quantity=domain_event.quantity)

    @change.register
    def _price_changed(self, domain_event: TicketTier.PriceChanged) -> Change:
        return Change(TIER_PRICE_CHANGED, price=domain_event.new_price, previous_price=domain_event.old_price)

    @change.register
    def _sales_closed(self, domain_event: TicketTier.SalesClosed) -> Change:
        return Change(TIER_SALES_CLOSED)

    @change.register
    def _kept_for_list(self, domain_event: TicketTier.TicketsKeptForWaitingList) -> Change:
        self._figures(domain_event).held += domain_event.quantity
        return Change(WAITING_LIST_TICKETS_KEPT, quantity=domain_event.quantity)

    @change.register
    def _back_on_sale(self, domain_event: TicketTier.TicketsBackOnSale) -> Change:
        self._figures(domain_event).held -= domain_event.quantity
        return Change(WAITING_LIST_TICKETS_BACK_ON_SALE, quantity=domain_event.quantity)

    @change.register
    def _offered(self, domain_event: TicketTier.OfferMade) -> Change:
        self.state.open_hold(str(domain_event.booking_id), domain_event.user_id)  # its hold.confirmed names the user
        return Change(
            WAITING_LIST_OFFERED, domain_event.booking_id, domain_event.user_id, domain_event.quantity,
            domain_event.expires_at,
        )  # fmt: skip

    @change.register
    def _offer_ended(self, domain_event: TicketTier.OfferEnded) -> Change:
        kind = OFFER_ENDINGS[type(domain_event)]
        return Change(kind, domain_event.booking_id, domain_event.user_id, domain_event.quantity)

    @change.register
    def _checked_in(self, domain_event: Booking.TicketCheckedIn) -> Change:
        return self._scan(TICKET_CHECKED_IN, domain_event)

    @change.register
    def _scan_conflict(self, domain_event: Booking.ScanConflict) -> Change:
        return self._scan(TICKET_SCAN_CONFLICT, domain_event)

    @staticmethod
    def _scan(kind: str, domain_event: Any) -> Change:
        ticket = ticket_id(domain_event.originator_id, domain_event.seat)
        return Change(
            kind,
            domain_event.originator_id,
            domain_event.user_id,
            1,
            None,
            ticket,
            domain_event.gate,
            domain_event.scanned_at,
        )

    @change.register
    def _payment_opened(self, domain_event: Payment.Opened) -> Change:
        return self._money(PAYMENT_AWAITING, domain_event, domain_event.amount_due, domain_event.due_at)

    @change.register
    def _payment_received(self, domain_event: Payment.Received) -> Change:
        return self._money(PAYMENT_RECEIVED, domain_event, domain_event.amount, currency=domain_event.currency)

    @change.register
    def _payment_refunded(self, domain_event: Payment.Refunded) -> Change:
        return self._money(PAYMENT_REFUNDED, domain_event, domain_event.amount)

    def _money(
        self, kind: str, domain_event: Any, amount: int, due_at: datetime | None = None, currency: str | None = None
    ) -> Change:
        opening = self.openings[str(domain_event.originator_id)]
        return Change(
            kind,
            opening.booking_id,
            opening.user_id,
            expires_at=due_at,
            amount=amount,
            currency=currency or opening.currency,
            reference=opening.reference,
        )


def money_text(price: Decimal | None) -> str | None:
    """A price as the API writes it: a decimal string in cents (``"80.00"``)."""
    return None if price is None else str(price.quantize(CENT))
