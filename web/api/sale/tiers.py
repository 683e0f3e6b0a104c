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
from web.schemas.fields import MAX_STORED_INTEGER, CamelCaseSchema, Money, QueryInteger, ResponseSchema
from web.schemas.tiers import AT, PUBLIC_HISTORY, REPLAY_ERRORS, HistoryQuerySchema, PublicHistorySchema, history_page
from web.services import services

blp = Blueprint("tiers", __name__, url_prefix="/api/tiers", description="Tier state and audit history")


class TierStateQuerySchema(CamelCaseSchema):
    """One point in time or the other: both at once is 400 ``VALIDATION_ERROR``, which the
    document can only say in words (OpenAPI 3.0 parameters cannot exclude each other)."""

    at_version = QueryInteger(
        validate=validate.Range(min=1, max=MAX_STORED_INTEGER),
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
    @blp.errors(*REPLAY_ERRORS)
    def get(self, query: dict[str, Any], tier: str) -> Any:
        """The tier now, or as it was at ``atVersion`` or ``atTime``, rebuilt from its events."""
        return TierAudit(services().ledger).tier_at(tier, query.get("at_version"), query.get("at_time"))


@blp.route("/<tier>/history")
class TierHistory(MethodView):
    @blp.arguments(HistoryQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, PublicHistorySchema(), example=PUBLIC_HISTORY)
    @blp.errors(*REPLAY_ERRORS)
    def get(self, query: dict[str, Any], tier: str) -> Any:
        """The tier's events after version ``after``, with sold and available after each
        (which booking and user each concerns: the admin's history)."""
        return history_page(TierAudit(services().ledger), tier, query)
