"""The ticket tier: one event-sourced aggregate per tier of a sale.

The tier's version number is the concurrency guard. Every booking appends an event at
the next version; two writers that read the same version cannot both record, so the
second one reloads and decides again. That is what stops overselling, with no lock.
"""

from __future__ import annotations

import re
from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InsufficientTicketsError, InvalidQuantityError, InvalidTierError

TIER_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
CENT = Decimal("0.01")


def tier_id(code: str) -> UUID:
    """The tier's stable id, derived from its code, so no lookup table is needed."""
    return uuid5(NAMESPACE_URL, f"tier:{code}")


def check_quantity(quantity: int) -> None:
    """Raise unless ``quantity`` is a whole number of at least one (bools excluded)."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvalidQuantityError(f"Quantity must be a whole number ≥ 1, got {quantity!r}.")


class TicketTier(Aggregate):
    """A priced tier with a capacity; sells tickets while any are available.

    Invariants: ``0 <= sold <= capacity``; every quantity is at least one.
    """

    class Created(Aggregate.Created):
        code: str
        price: Decimal
        capacity: int

    class TicketsBooked(Aggregate.Event):
        booking_id: UUID
        user_id: str
        quantity: int

    class TicketsReleased(Aggregate.Event):
        booking_id: UUID
        quantity: int

    class CapacityAdded(Aggregate.Event):
        quantity: int

    @staticmethod
    def create_id(code: str, **_: object) -> UUID:
        return tier_id(code)

    @classmethod
    def open(cls, code: str, price: Decimal, capacity: int) -> TicketTier:
        """Check the tier's terms, then create it (the ``Created`` event)."""
        if not TIER_CODE.fullmatch(code):
            raise InvalidTierError(f"Tier code must match {TIER_CODE.pattern}, got {code!r}.")
        if not isinstance(price, Decimal) or price < 0 or price != price.quantize(CENT):
            raise InvalidTierError(f"Price must be a Decimal ≥ 0 in whole cents, got {price!r}.")
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
            raise InvalidTierError(f"Capacity must be a whole number ≥ 0, got {capacity!r}.")
        return cls(code=code, price=price, capacity=capacity)

    @event(Created)
    def __init__(self, code: str, price: Decimal, capacity: int) -> None:
        self.code = code
        self.price = price
        self.capacity = capacity
        self.sold = 0

    @property
    def available(self) -> int:
        return self.capacity - self.sold

    def book(self, booking_id: UUID, user_id: str, quantity: int) -> None:
        """Sell ``quantity`` tickets to a booking, or raise and record nothing."""
        check_quantity(quantity)
        if quantity > self.available:
            raise InsufficientTicketsError(self.code, quantity, self.available)
        self._book(booking_id=booking_id, user_id=user_id, quantity=quantity)

    @event(TicketsBooked)
    def _book(self, booking_id: UUID, user_id: str, quantity: int) -> None:
        self.sold += quantity

    def release(self, booking_id: UUID, quantity: int) -> None:
        """Put a cancelled booking's tickets back on sale."""
        check_quantity(quantity)
        if quantity > self.sold:
            raise InvalidQuantityError(
                f"Cannot release {quantity} ticket(s): tier {self.code} has sold {self.sold}."
            )
        self._release(booking_id=booking_id, quantity=quantity)

    @event(TicketsReleased)
    def _release(self, booking_id: UUID, quantity: int) -> None:
        self.sold -= quantity

    def add_capacity(self, quantity: int) -> None:
        """Put more tickets on sale."""
        check_quantity(quantity)
        self._add_capacity(quantity=quantity)

    @event(CapacityAdded)
    def _add_capacity(self, quantity: int) -> None:
        self.capacity += quantity
