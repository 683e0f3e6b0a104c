"""``/api/tickets``: what is on sale (from the read tables, also as a live stream) and
booking (a command)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate, validates_schema

from web.schemas import CamelCaseSchema, check_quantity_limit, identifier, idempotency_key
from web.logs import event
from web.services import services
from web.stream import tier_events

blp = Blueprint("tickets", __name__, url_prefix="/api/tickets", description="Ticket tiers and booking")


class TicketSchema(CamelCaseSchema):
    tier = fields.String()
    price = fields.Decimal(as_string=True, places=2, metadata={"example": "100.00"})
    currency = fields.Constant("USD")
    capacity = fields.Integer()
    available_quantity = fields.Integer(attribute="available")
    on_sale = fields.Boolean()


class BookRequestSchema(CamelCaseSchema):
    user_id = identifier()
    tier = identifier(max_length=32)
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))

    @validates_schema
    def quantity_within_limit(self, data: dict[str, Any], **_: Any) -> None:
        check_quantity_limit(data.get("quantity", 0), current_app.config["MAX_TICKETS_PER_BOOKING"])


class BookReceiptSchema(CamelCaseSchema):
    booking_id = fields.UUID()
    tier = fields.String()
    booked_quantity = fields.Integer(attribute="quantity")
    remaining_quantity = fields.Integer(attribute="remaining")
    status = fields.String()


@blp.route("")
class Tickets(MethodView):
    @blp.response(200, TicketSchema(many=True))
    def get(self) -> Any:
        """List the tiers with price and available tickets."""
        return services().view.list_tiers()


@blp.route("/stream")
class TicketStream(MethodView):
    @blp.alt_response(200, success=True, schema={"type": "string"}, content_type="text/event-stream",
                      description="Server-Sent Events: each `data:` is the tier list as `GET /api/tickets` "
                                  "gives it, sent first and then whenever it changes; the stream ends after "
                                  "`SSE_MAX_SECONDS` and its `retry:` tells the browser when to reconnect.")
    def get(self) -> Response:
        """The tier list, live (for the web page)."""
        view, schema = services().view, TicketSchema(many=True)

        def read() -> str:
            return json.dumps(schema.dump(view.list_tiers()), separators=(",", ":"))

        events = tier_events(read, current_app.config["SSE_MAX_SECONDS"])
        # X-Accel-Buffering: a buffering proxy (nginx) would hold the events back.
        return Response(events, mimetype="text/event-stream", headers={"X-Accel-Buffering": "no"})


@blp.route("/book")
class Book(MethodView):
    @blp.arguments(BookRequestSchema(), error_status_code=400)
    @blp.response(201, BookReceiptSchema())
    def post(self, request: dict[str, Any]) -> Any:
        """Book tickets on a tier; ``remainingQuantity`` is read from the tier just saved."""
        key = idempotency_key()
        receipt = services().ledger.book(request["user_id"], request["tier"], request["quantity"], key)
        event("booked", booking_id=receipt.booking_id, tier=receipt.tier, quantity=receipt.quantity)
        return receipt
