"""Buying through the waiting room: booking, holding and ordering as every entry point must.

While a room is on for a tier, only a buyer the room admitted may buy it, with the pass the
queue gave them (``passes.py``); a tier outside the room, or no room, needs no pass. The time
an admitted buyer's purchase takes counts towards the automatic admission rate
(``admission_rate.py``). The ledger decides and records the purchase itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from application import BookingLedger, BookingReceipt
from application.booking.receipts import OrderReceipt
from application.errors import (
    IdempotencyKeyReusedError,
    LedgerBusyError,
    OutcomeUnknownError,
    QueuePassExpiredError,
    QueuePassRequiredError,
    TierNotFoundError,
)
from application.waiting_room.rooms import WaitingRoomService
from domain.errors import (
    InsufficientTicketsError,
    LedgerError,
    SalesClosedError,
    SalesNotOpenError,
    UserLimitExceededError,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# What a well-formed purchase (a booking, a hold or an order) may be refused with: the
# room's refusals, the tiers' rules, and the ledger's answers when it cannot record.
REFUSALS: tuple[type[LedgerError], ...] = (
    QueuePassRequiredError,
    QueuePassExpiredError,
    TierNotFoundError,
    SalesNotOpenError,
    SalesClosedError,
    InsufficientTicketsError,
    UserLimitExceededError,
    IdempotencyKeyReusedError,
    LedgerBusyError,
    OutcomeUnknownError,
)


class Checkout:
    """The ledger's purchases behind the waiting room's passes. Each takes the buyer's
    ``queue_pass`` (``None`` if they sent none) and raises one of ``REFUSALS`` or returns
    the ledger's receipt."""

    def __init__(
        self, ledger: BookingLedger, rooms: WaitingRoomService, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.ledger = ledger
        self.rooms = rooms
        self.clock = clock

    def book(
        self, user_id: str, tier: str, quantity: int, idempotency_key: str | None, queue_pass: str | None
    ) -> BookingReceipt:
        return self._buy(
            queue_pass, user_id, [tier], lambda: self.ledger.book(user_id, tier, quantity, idempotency_key)
        )

    def hold(
        self, user_id: str, tier: str, quantity: int, idempotency_key: str | None, queue_pass: str | None
    ) -> BookingReceipt:
        return self._buy(
            queue_pass, user_id, [tier], lambda: self.ledger.hold(user_id, tier, quantity, idempotency_key)
        )

    def order(
        self, user_id: str, items: list[tuple[str, int]], idempotency_key: str | None, queue_pass: str | None
    ) -> OrderReceipt:
        tiers = [tier for tier, _ in items]
        return self._buy(queue_pass, user_id, tiers, lambda: self.ledger.order(user_id, items, idempotency_key))

    def _buy(self, queue_pass: str | None, user_id: str, tiers: list[str], purchase: Callable[[], T]) -> T:
        """Raise unless the room lets ``user_id`` buy every one of ``tiers`` now, then make
        the purchase, timed if a room admitted the buyer for it (refused or not: the ledger's
        time is what the automatic rate watches)."""
        gated = [self.rooms.check_pass(queue_pass, user_id, tier) for tier in tiers]
        if not any(gated):
            return purchase()
        started = self.clock()
        try:
            return purchase()
        finally:
            self._count(self.clock() - started)

    def _count(self, seconds: float) -> None:
        try:
            self.rooms.booked(seconds)
        except Exception:  # the queue's store: the purchase is decided, only its timing is lost
            log.warning("an admitted buyer's purchase was not timed", exc_info=True)
