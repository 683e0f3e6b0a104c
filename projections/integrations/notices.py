"""Notices (integration events): the ledger's public vocabulary for other systems.

The stored domain events are the ledger's own business and may evolve (fields added,
events split or renamed with their old topics registered); other systems (payment,
email, CRM, door scanning) need a contract that does not. These twenty-two types of notice
are that contract, served by the feed (``GET /api/feed``), webhooks and confirmation
emails:

    booking.confirmed   booking.cancelled
    hold.placed         hold.confirmed      hold.released      hold.expired
    tier.created        tier.capacity_added tier.price_changed tier.sales_closed  tier.sold_out
    ticket.checked_in   ticket.scan_conflict
    payment.awaiting    payment.received    payment.refunded
    waiting_list.offered  waiting_list.accepted  waiting_list.declined  waiting_list.lapsed
    waiting_list.tickets_kept  waiting_list.tickets_back_on_sale

The ``ticket.*`` notices come from the booking's scans at the door (one ticket each,
``quantity`` 1, with its ``ticketId``, ``gate`` and when it was scanned as ``occurredAt``);
the tier's figures they carry are unchanged by them. The ``payment.*`` notices come from a
paid booking's payment: opened (what is due, in ``currency``'s integer minor units, its RF
creditor ``reference`` and its deadline as ``expiresAt``), received, and each refund sent;
they too leave the tier's figures as they were. ``tier.price_changed`` carries the tier's new
``price`` and its ``previousPrice`` (decimal strings, as the API writes prices); what was sold
or held before keeps its price. The ``waiting_list.*`` notices follow an
offer made to the first in line of a sold-out tier's waiting list: ``offered`` names the hold
(``bookingId``) and its deadline (``expiresAt``), and each offer ends once, ``accepted``
(right after its ``hold.confirmed``), ``declined`` (after ``hold.released``) or ``lapsed``
(after ``hold.expired``). Tickets given back while anyone waits are kept for the list
(``tickets_kept``, right after the notice that gave them back, which alone still shows them
available: each notice's figures are those right after its own domain event), counted as
held from then on; ``tickets_back_on_sale`` puts them on sale when nobody waits any more.

Which domain event gives which notice, with what id and position: ``mapping.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

BOOKING_CONFIRMED = "booking.confirmed"
BOOKING_CANCELLED = "booking.cancelled"
HOLD_PLACED = "hold.placed"
HOLD_CONFIRMED = "hold.confirmed"
HOLD_RELEASED = "hold.released"
HOLD_EXPIRED = "hold.expired"
TIER_CREATED = "tier.created"
TIER_CAPACITY_ADDED = "tier.capacity_added"
TIER_PRICE_CHANGED = "tier.price_changed"
TIER_SALES_CLOSED = "tier.sales_closed"
TIER_SOLD_OUT = "tier.sold_out"
TICKET_CHECKED_IN = "ticket.checked_in"
TICKET_SCAN_CONFLICT = "ticket.scan_conflict"
PAYMENT_AWAITING = "payment.awaiting"
PAYMENT_RECEIVED = "payment.received"
PAYMENT_REFUNDED = "payment.refunded"
WAITING_LIST_OFFERED = "waiting_list.offered"
WAITING_LIST_ACCEPTED = "waiting_list.accepted"
WAITING_LIST_DECLINED = "waiting_list.declined"
WAITING_LIST_LAPSED = "waiting_list.lapsed"
WAITING_LIST_TICKETS_KEPT = "waiting_list.tickets_kept"
WAITING_LIST_TICKETS_BACK_ON_SALE = "waiting_list.tickets_back_on_sale"
TYPES = (
    BOOKING_CONFIRMED,
    BOOKING_CANCELLED,
    HOLD_PLACED,
    HOLD_CONFIRMED,
    HOLD_RELEASED,
    HOLD_EXPIRED,
    TIER_CREATED,
    TIER_CAPACITY_ADDED,
    TIER_PRICE_CHANGED,
    TIER_SALES_CLOSED,
    TIER_SOLD_OUT,
    TICKET_CHECKED_IN,
    TICKET_SCAN_CONFLICT,
    PAYMENT_AWAITING,
    PAYMENT_RECEIVED,
    PAYMENT_REFUNDED,
    WAITING_LIST_OFFERED,
    WAITING_LIST_ACCEPTED,
    WAITING_LIST_DECLINED,
    WAITING_LIST_LAPSED,
    WAITING_LIST_TICKETS_KEPT,
    WAITING_LIST_TICKETS_BACK_ON_SALE,
)


@dataclass(frozen=True)
class Notice:
    """One notice; ``body()`` is its JSON, exactly as the feed and webhooks send it."""

    position: int
    id: str
    type: str
    occurred_at: datetime
    tier: str
    booking_id: str | None
    user_id: str | None
    quantity: int | None  # the booking's or hold's tickets, the capacity added, or the tickets kept or put back
    expires_at: datetime | None  # hold.placed, waiting_list.offered and payment.awaiting (its deadline) only
    capacity: int  # the tier's figures right after the notice's domain event
    sold: int
    held: int
    available: int
    ticket_id: str | None = None  # ticket.* only
    gate: str | None = None
    amount: int | None = None  # payment.* only: integer minor units of currency
    currency: str | None = None
    reference: str | None = None  # payment.* only: the RF creditor reference a transfer quotes
    price: str | None = None  # tier.price_changed only: the new price and the one before, as "80.00"
    previous_price: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "position": self.position,
            "occurredAt": self.occurred_at.isoformat(),
            "tier": self.tier,
            "bookingId": self.booking_id,
            "userId": self.user_id,
            "quantity": self.quantity,
            "expiresAt": self.expires_at.isoformat() if self.expires_at else None,
            "capacity": self.capacity,
            "sold": self.sold,
            "held": self.held,
            "availableQuantity": self.available,
            "ticketId": self.ticket_id,
            "gate": self.gate,
            "amount": self.amount,
            "currency": self.currency,
            "reference": self.reference,
            "price": self.price,
            "previousPrice": self.previous_price,
        }

    def body(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))
