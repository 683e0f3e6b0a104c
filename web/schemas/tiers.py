"""The tiers' shapes that more than one resource answers with or takes: a tier as listed
(``GET /api/tickets``, an event's tiers), a new tier (the admin's and an event's), and a
page of a tier's audited history (the public one and the admin's)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from application.audit.tier_audit import TierAudit
from web.openapi.error_examples import BOOKING_ID
from web.schemas.fields import MAX_STORED_INTEGER, CamelCaseSchema, Money, QueryInteger, ResponseSchema


class ListedTierSchema(ResponseSchema):
    """A tier as ``GET /api/tickets`` lists it."""

    openapi_name = "Ticket"

    tier = fields.String()
    price = Money()
    currency = fields.Constant("USD", metadata={"type": "string", "enum": ["USD"]})
    capacity = fields.Integer()
    available_quantity = fields.Integer(attribute="available")
    on_sale = fields.Boolean()


class NewTierSchema(CamelCaseSchema):
    tier = fields.String(required=True, validate=validate.Regexp(r"^[A-Z][A-Z0-9_]{0,31}$"))
    price = Money(required=True)
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10_000_000))
    per_user_limit = fields.Integer(strict=True, load_default=None, validate=validate.Range(min=1))


class HistoryQuerySchema(CamelCaseSchema):
    after = QueryInteger(load_default=0, validate=validate.Range(min=0, max=MAX_STORED_INTEGER))
    limit = QueryInteger(load_default=100, validate=validate.Range(min=1, max=1000))


class PublicAuditLineSchema(ResponseSchema):
    """One event of the tier and its figures after it; not whose booking it was."""

    version = fields.Integer()
    event = fields.String()
    at = fields.DateTime(format="iso")
    available_change = fields.Integer()
    capacity = fields.Integer()
    sold = fields.Integer()
    held = fields.Integer()
    available_quantity = fields.Integer(attribute="available")


class AuditLineSchema(PublicAuditLineSchema):
    """The admin's line: also the booking and the user the event concerns."""

    booking_id = fields.UUID(allow_none=True)
    user_id = fields.String(allow_none=True)


class PublicHistorySchema(ResponseSchema):
    tier = fields.String()
    items = fields.List(fields.Nested(PublicAuditLineSchema()))
    next_after = fields.Integer(allow_none=True, metadata={"description": "pass as ?after= for the next page"})


class HistorySchema(PublicHistorySchema):
    items = fields.List(fields.Nested(AuditLineSchema()))


AT = "2026-11-24T08:41:16.609600+00:00"
PUBLIC_HISTORY = {
    "tier": "VIP",
    "nextAfter": 2,
    "items": [
        {
            "version": 1,
            "event": "Created",
            "at": AT,
            "availableChange": 100,
            "capacity": 100,
            "sold": 0,
            "held": 0,
            "availableQuantity": 100,
        },
        {
            "version": 2,
            "event": "TicketsBooked",
            "at": AT,
            "availableChange": -2,
            "capacity": 100,
            "sold": 2,
            "held": 0,
            "availableQuantity": 98,
        },
    ],
}
HISTORY = {
    **PUBLIC_HISTORY,
    "items": [
        {**PUBLIC_HISTORY["items"][0], "bookingId": None, "userId": None},
        {**PUBLIC_HISTORY["items"][1], "bookingId": BOOKING_ID, "userId": "alice"},
    ],
}
# What a tier replayed from its events (its state, its history) may answer.
REPLAY_ERRORS = ("VALIDATION_ERROR", "TICKET_NOT_FOUND", "VERSION_NOT_FOUND", "STORE_UNAVAILABLE")


def history_page(audit: TierAudit, tier: str, query: dict[str, Any]) -> dict[str, Any]:
    """A page of the tier's audited history: ``query["limit"]`` events after ``query["after"]``."""
    items = audit.history(tier, query["after"], query["limit"])
    full_page = len(items) == query["limit"]
    return {"tier": tier, "items": items, "next_after": items[-1].version if full_page else None}
