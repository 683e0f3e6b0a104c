"""What the ledger answers its callers: plain values, never live aggregates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from domain.bookings import BookingStatus
from domain.tiers import TicketTier


@dataclass(frozen=True)
class TierDetails:
    code: str
    price: Decimal
    capacity: int
    sold: int
    available: int
    held: int
    version: int
    on_sale: bool
    per_user_limit: int | None

    @classmethod
    def of(cls, tier: TicketTier) -> TierDetails:
        return cls(
            tier.code,
            tier.price,
            tier.capacity,
            tier.sold,
            tier.available,
            tier.held,
            tier.version,
            tier.on_sale,
            tier.per_user_limit,
        )


@dataclass(frozen=True)
class BookingReceipt:
    booking_id: UUID
    tier: str
    quantity: int
    remaining: int
    status: BookingStatus
    expires_at: datetime | None = None  # holds only


@dataclass(frozen=True)
class OrderReceipt:
    order_id: UUID
    user_id: str
    items: tuple[BookingReceipt, ...]  # one booking per tier, in the order's order
