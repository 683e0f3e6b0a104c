"""The ticket tier: one event-sourced aggregate per tier of a sale.

The tier's version number is the concurrency guard. Every booking appends an event at
the next version; two writers that read the same version cannot both record, so the
second one reloads and decides again. That is what stops overselling, with no lock.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import (
    InsufficientTicketsError,
    InvalidQuantityError,
    InvalidTierError,
    PaymentRequiredError,
    RefundRequiredError,
    SalesClosedError,
    SalesNotOpenError,
    UserLimitExceededError,
)
from domain.payments import PaymentTerms

TIER_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
CENT = Decimal("0.01")
# Bounds that keep every figure inside the read tables' column types (NUMERIC(12, 2),
# INTEGER): an event the projection could not store would stop it for good.
MAX_PRICE = Decimal("9999999999.99")
MAX_CAPACITY = 1_000_000_000


def tier_id(code: str) -> UUID:
    """The tier's stable id, derived from its code, so no lookup table is needed."""
    return uuid5(NAMESPACE_URL, f"tier:{code}")


def check_quantity(quantity: int) -> None:
    """Raise unless ``quantity`` is a whole number of at least one (bools excluded)."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvalidQuantityError(f"Quantity must be a whole number ≥ 1, got {quantity!r}.")


class TicketTier(Aggregate):
    """A priced tier with a capacity; sells tickets while any are available.

    Tickets are either sold or *held*: set aside for a hold (a booking in status
    ``held``, see ``domain.bookings``) until it is confirmed (then sold) or released or
    expired (then available again). Invariants: ``0 <= sold + held <= capacity``; every
    quantity is at least one; with a per-user limit, no user has more tickets sold to or
    held for them than the limit; nothing is sold or held once closed (a hold granted
    before may still be confirmed). Fields added after the first release
    (``per_user_limit``, ``user_id`` of a release, ``held``) are optional or default,
    so streams and snapshots recorded before them still load.
    """

    held = 0  # class default: snapshots taken before holds existed have no ``held``
    sale_opens: datetime | None = None  # class defaults: tiers recorded before events had windows
    sale_closes: datetime | None = None
    payment: dict[str, Any] | None = None  # class default: tiers recorded before payments are free

    class Created(Aggregate.Created):
        code: str
        price: Decimal
        capacity: int
        per_user_limit: int | None
        sale_opens: datetime | None = None  # an event's sale window (``domain.shows``)
        sale_closes: datetime | None = None
        payment: dict[str, Any] | None = None  # its event's ``PaymentTerms``, if its sale takes money
        actor: str | None = None  # who created it (``domain.staff``); None before staff accounts

    class TicketsBooked(Aggregate.Event):
        booking_id: UUID
        user_id: str
        quantity: int

    class TicketsReleased(Aggregate.Event):
        booking_id: UUID
        quantity: int
        user_id: str | None

    class TicketsHeld(Aggregate.Event):
        booking_id: UUID
        user_id: str
        quantity: int
        expires_at: datetime

    class HoldConfirmed(Aggregate.Event):
        booking_id: UUID
        quantity: int

    class HoldReleased(Aggregate.Event):
        booking_id: UUID
        user_id: str
        quantity: int
        reason: str  # "released" by the user or "expired"

    class CapacityAdded(Aggregate.Event):
        quantity: int
        actor: str | None = None  # who added it; None before staff accounts

    class SalesClosed(Aggregate.Event):
        actor: str | None = None

    @staticmethod
    def create_id(code: str, **_: object) -> UUID:
        return tier_id(code)

    @classmethod
    def open(
        cls,
        code: str,
        price: Decimal,
        capacity: int,
        per_user_limit: int | None = None,
        sale_opens: datetime | None = None,
        sale_closes: datetime | None = None,
        payment: PaymentTerms | None = None,
        actor: str | None = None,
    ) -> TicketTier:
        """Check the tier's terms, then create it (the ``Created`` event). A tier of a
        paid event with a price above zero takes ``payment``; a free one never does."""
        if not TIER_CODE.fullmatch(code):
            raise InvalidTierError(f"Tier code must match {TIER_CODE.pattern}, got {code!r}.")
        if not isinstance(price, Decimal) or not 0 <= price <= MAX_PRICE or price != price.quantize(CENT):
            raise InvalidTierError(f"Price must be a Decimal from 0 to {MAX_PRICE} in whole cents, got {price!r}.")
        if isinstance(capacity, bool) or not isinstance(capacity, int) or not 0 <= capacity <= MAX_CAPACITY:
            raise InvalidTierError(f"Capacity must be a whole number from 0 to {MAX_CAPACITY:,}, got {capacity!r}.")
        if per_user_limit is not None:
            check_quantity(per_user_limit)
        # Only what is set is recorded, so a tier's event is as it was before windows,
        # payments and actors.
        extra: dict[str, Any] = (
            {"sale_opens": sale_opens, "sale_closes": sale_closes} if sale_opens or sale_closes else {}
        )
        if payment is not None and price > 0:
            payment.minor_units(price)  # the price must be whole minor units of the currency
            extra["payment"] = payment.as_stored()
        if actor:
            extra["actor"] = actor
        return cls(code=code, price=price, capacity=capacity, per_user_limit=per_user_limit, **extra)

    @event(Created)
    def __init__(
        self,
        code: str,
        price: Decimal,
        capacity: int,
        per_user_limit: int | None = None,
        sale_opens: datetime | None = None,
        sale_closes: datetime | None = None,
        payment: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> None:
        self.code = code
        self.payment = payment  # as recorded: a snapshot holds plain values
        self.sale_opens = sale_opens
        self.sale_closes = sale_closes
        self.price = price
        self.capacity = capacity
        self.sold = 0
        self.per_user_limit = per_user_limit
        self.sold_to: dict[str, int] = {}  # sold or held, per user; only with a per-user limit
        self.on_sale = True

    @property
    def payment_terms(self) -> PaymentTerms | None:
        """How this tier's sale takes money; None: it is free, booked outright."""
        return PaymentTerms.stored(self.payment)

    @property
    def available(self) -> int:
        return self.capacity - self.sold - self.held

    def book(self, booking_id: UUID, user_id: str, quantity: int, now: datetime | None = None) -> None:
        """Sell ``quantity`` tickets to a booking, or raise and record nothing (at ``now``,
        inside the tier's sale window, if it has one); a tier that takes payment never
        sells outright."""
        self.check_can_take(user_id, quantity, now, outright=True)
        self._book(booking_id=booking_id, user_id=user_id, quantity=quantity)

    def hold(
        self, booking_id: UUID, user_id: str, quantity: int, expires_at: datetime, now: datetime | None = None
    ) -> None:
        """Set ``quantity`` tickets aside for a hold until ``expires_at``, on the same
        terms as a sale, or raise and record nothing."""
        self.check_can_take(user_id, quantity, now)
        self._hold(booking_id=booking_id, user_id=user_id, quantity=quantity, expires_at=expires_at)

    def check_can_take(self, user_id: str, quantity: int, now: datetime | None = None, outright: bool = False) -> None:
        """Raise unless ``quantity`` tickets could be sold (``outright``) or held for the
        user at ``now`` (an order checks every tier before it sells from any)."""
        check_quantity(quantity)
        if outright and self.payment_terms is not None:
            raise PaymentRequiredError(f"Tier {self.code} is sold through a payment, not booked outright.")
        if not self.on_sale or (now is not None and self.sale_closes is not None and now >= self.sale_closes):
            raise SalesClosedError(f"Sales of tier {self.code} are closed.")
        if now is not None and self.sale_opens is not None and now < self.sale_opens:
            raise SalesNotOpenError(f"Sales of tier {self.code} open at {self.sale_opens.isoformat()}.")
        if quantity > self.available:
            raise InsufficientTicketsError(self.code, quantity, self.available)
        taken = self.sold_to.get(user_id, 0)
        if self.per_user_limit is not None and taken + quantity > self.per_user_limit:
            raise UserLimitExceededError(
                f"Tier {self.code} sells at most {self.per_user_limit} ticket(s) per user; {user_id} has {taken}."
            )

    @event(TicketsBooked)
    def _book(self, booking_id: UUID, user_id: str, quantity: int) -> None:
        self.sold += quantity
        self._count_for(user_id, quantity)

    @event(TicketsHeld)
    def _hold(self, booking_id: UUID, user_id: str, quantity: int, expires_at: datetime) -> None:
        self.held += quantity
        self._count_for(user_id, quantity)

    def _count_for(self, user_id: str | None, quantity: int) -> None:
        if self.per_user_limit is not None and user_id is not None:
            self.sold_to[user_id] = self.sold_to.get(user_id, 0) + quantity

    def confirm_hold(self, booking_id: UUID, quantity: int, paid: bool = False) -> None:
        """Sell a hold's tickets (the booking checks that the hold is still active); on a
        tier that takes payment, only in the recording that receives it (``paid``)."""
        if self.payment_terms is not None and not paid:
            raise PaymentRequiredError(f"Hold {booking_id} on tier {self.code} is confirmed by its payment.")
        self._check_held(quantity)
        self._confirm_hold(booking_id=booking_id, quantity=quantity)

    @event(HoldConfirmed)
    def _confirm_hold(self, booking_id: UUID, quantity: int) -> None:
        self.held -= quantity
        self.sold += quantity

    def release_hold(self, booking_id: UUID, user_id: str, quantity: int, reason: str) -> None:
        """Put a released or expired hold's tickets back on sale."""
        self._check_held(quantity)
        self._release_hold(booking_id=booking_id, user_id=user_id, quantity=quantity, reason=reason)

    @event(HoldReleased)
    def _release_hold(self, booking_id: UUID, user_id: str, quantity: int, reason: str) -> None:
        self.held -= quantity
        self._count_for(user_id, -quantity)

    def _check_held(self, quantity: int) -> None:
        check_quantity(quantity)
        if quantity > self.held:
            raise InvalidQuantityError(f"Tier {self.code} holds {self.held} ticket(s), not {quantity}.")

    def release(
        self, booking_id: UUID, quantity: int, user_id: str | None = None, refund_decided: bool = False
    ) -> None:
        """Put a cancelled booking's tickets back on sale; on a tier that takes payment,
        only in the recording that decides its refund (``refund_decided``)."""
        if self.payment_terms is not None and not refund_decided:
            raise RefundRequiredError(f"Booking {booking_id} was paid for: it is cancelled with its refund.")
        check_quantity(quantity)
        if quantity > self.sold:
            raise InvalidQuantityError(f"Cannot release {quantity} ticket(s): tier {self.code} has sold {self.sold}.")
        self._release(booking_id=booking_id, quantity=quantity, user_id=user_id)

    @event(TicketsReleased)
    def _release(self, booking_id: UUID, quantity: int, user_id: str | None = None) -> None:
        self.sold -= quantity
        self._count_for(user_id, -quantity)

    def add_capacity(self, quantity: int, actor: str | None = None) -> None:
        """Put more tickets on sale."""
        check_quantity(quantity)
        if self.capacity + quantity > MAX_CAPACITY:
            raise InvalidQuantityError(f"Capacity would exceed {MAX_CAPACITY:,}.")
        self._add_capacity(quantity=quantity, **({"actor": actor} if actor else {}))

    @event(CapacityAdded)
    def _add_capacity(self, quantity: int, actor: str | None = None) -> None:
        self.capacity += quantity

    def close_sales(self, actor: str | None = None) -> None:
        """Stop selling (cancellations still release tickets); closing twice changes nothing."""
        if self.on_sale:
            self._close_sales(**({"actor": actor} if actor else {}))

    @event(SalesClosed)
    def _close_sales(self, actor: str | None = None) -> None:
        self.on_sale = False
