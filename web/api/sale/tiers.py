"""``/api/tiers/<tier>``: a tier's state now or at any past version or time, and its
audited history, replayed from its events.

The public history gives figures only: which booking and which user an event concerns
is the admin's view (``/api/admin/tiers/<tier>/history``). A booking id and its user id
are all it takes to cancel a booking or confirm a stranger's hold when users are not
authenticated (the open default), so no public answer names either."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from flask.views import MethodView
from marshmallow import ValidationError, fields, validate, validates_schema

from application.audit.tier_audit import TierAudit
from web.openapi.apidoc import Blueprint
from web.openapi.error_examples import BOOKING_ID
from web.schemas.fields import CamelCaseSchema, Money, QueryInteger, ResponseSchema
from web.services import services

blp = Blueprint("tiers", __name__, url_prefix="/api/tiers", description="Tier state and audit history")


# Both stores keep versions as 64-bit integers; a larger one would not reach the query.
MAX_VERSION = 2**63 - 1


class TierStateQuerySchema(CamelCaseSchema):
    """One point in time or the other: both at once is 400 ``VALIDATION_ERROR``, which the
    document can only say in words (OpenAPI 3.0 parameters cannot exclude each other)."""

    at_version = QueryInteger(
        validate=validate.Range(min=1, max=MAX_VERSION),
        metadata={"description": "the tier as it was at this version; not together with `atTime`"},
    )
    at_time = fields.AwareDateTime(
        default_timezone=UTC,
        metadata={
            "example": "2026-11-24T08:00:00Z",
            "description": "the tier as it was just after its last event at or before this time; not together "
            "with `atVersion`",
        },
    )

    @validates_schema
    def one_point_in_time(self, data: dict[str, Any], **_: Any) -> None:
        if "at_version" in data and "at_time" in data:
            raise ValidationError("Give atVersion or atTime, not both.", "atTime")


class TierStateSchema(ResponseSchema):
    tier = fields.String(attribute="code")
    price = Money()
    currency = fields.Constant("USD", metadata={"type": "string", "enum": ["USD"]})
    capacity = fields.Integer()
    sold = fields.Integer()
    held = fields.Integer(metadata={"description": "set aside for holds: neither sold nor available"})
    available_quantity = fields.Integer(attribute="available")
    version = fields.Integer()
    as_of = fields.DateTime(format="iso", attribute="modified_on")


class HistoryQuerySchema(CamelCaseSchema):
    after = QueryInteger(load_default=0, validate=validate.Range(min=0, max=MAX_VERSION))
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
HISTORY_ERRORS = ("VALIDATION_ERROR", "TICKET_NOT_FOUND", "VERSION_NOT_FOUND", "STORE_UNAVAILABLE")


@blp.route("/<tier>")
class TierState(MethodView):
    @blp.arguments(TierStateQuerySchema(), location="query", error_status_code=400)
    @blp.response(
        200,
        TierStateSchema(),
        example={
            "tier": "VIP",
            "price": "100.00",
            "currency": "USD",
            "capacity": 100,
            "sold": 2,
            "held": 0,
            "availableQuantity": 98,
            "version": 2,
            "asOf": AT,
        },
    )
    @blp.errors("VALIDATION_ERROR", "TICKET_NOT_FOUND", "VERSION_NOT_FOUND", "STORE_UNAVAILABLE")
    def get(self, query: dict[str, Any], tier: str) -> Any:
        """The tier now, or as it was at ``atVersion`` or ``atTime``, rebuilt from its events."""
        return TierAudit(services().ledger).tier_at(tier, query.get("at_version"), query.get("at_time"))


@blp.route("/<tier>/history")
class TierHistory(MethodView):
    @blp.arguments(HistoryQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, PublicHistorySchema(), example=PUBLIC_HISTORY)
    @blp.errors(*HISTORY_ERRORS)
    def get(self, query: dict[str, Any], tier: str) -> Any:
        """The tier's events after version ``after``, with sold and available after each
        (which booking and user each concerns: the admin's history)."""
        return history_page(tier, query)


def history_page(tier: str, query: dict[str, Any]) -> dict[str, Any]:
    """A page of the tier's audited history: ``query["limit"]`` events after ``query["after"]``."""
    items = TierAudit(services().ledger).history(tier, query["after"], query["limit"])
    full_page = len(items) == query["limit"]
    return {"tier": tier, "items": items, "next_after": items[-1].version if full_page else None}
