"""The order: several tiers bought together, all or nothing.

An order is recorded in one recording with every tier it sells from and one booking per
tier (``domain.bookings``), so either all of it is stored or none. The tiers' version
checks stop an oversell exactly as for a single booking; each tier checks its own terms
(enough left, on sale, its per-user limit) for the whole order before any is sold.
After that, each booking lives its own life: cancelled, checked in at the door, per tier.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidOrderError
from domain.tiers import check_quantity

MAX_ITEMS = 10


def order_booking_id(order_id: UUID, item: int) -> UUID:
    """The booking an order makes for its item ``item``: always the same id."""
    return uuid5(order_id, str(item))


def check_items(items: list[tuple[str, int]]) -> None:
    """One to ``MAX_ITEMS`` items, each tier once, each quantity a whole number ≥ 1."""
    if not 1 <= len(items) <= MAX_ITEMS:
        raise InvalidOrderError(f"An order has 1 to {MAX_ITEMS} items, not {len(items)}.")
    if len({tier for tier, _ in items}) != len(items):
        raise InvalidOrderError("An order names each tier once: add up its quantities.")
    for _, quantity in items:
        check_quantity(quantity)


class Order(Aggregate):
    """What a user bought in one go: its items (tier, quantity) and the booking of each."""

    class Placed(Aggregate.Created):
        user_id: str
        items: list[list[str | int]]  # [tier, quantity] each, in the order's order

    @classmethod
    def place(cls, order_id: UUID, user_id: str, items: list[tuple[str, int]]) -> Order:
        check_items(items)
        return cls._create(cls.Placed, id=order_id, user_id=user_id, items=[[tier, qty] for tier, qty in items])

    @event(Placed)
    def __init__(self, user_id: str, items: list[list[str | int]]) -> None:
        self.user_id = user_id
        self.items = [(str(tier), int(quantity)) for tier, quantity in items]

    def booking_ids(self) -> list[UUID]:
        return [order_booking_id(self.id, n) for n in range(len(self.items))]
