"""``/api/tickets``: what is on sale (from the read tables, also as a live stream) and
booking (a command)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app
from flask.views import MethodView
from marshmallow import fields, validate, validates_schema

from web.apidoc import BOOKING_ID, COMMAND, IDEMPOTENCY_KEY_HEADER, JSON_BODY, QUEUE_PASS, QUEUE_PASS_HEADER, Blueprint
from web.schemas import CamelCaseSchema, Money, check_quantity_limit, identifier, idempotency_key
from web.logs import event
from web.queue import require_pass
from web.services import services
from web.stream import tier_events

blp = Blueprint("tickets", __name__, url_prefix="/api/tickets", description="Ticket tiers and booking")


class TicketSchema(CamelCaseSchema):
    tier = fields.String()
    price = Money()
    currency = fields.Constant("USD", metadata={"type": "string", "enum": ["USD"]})
    capacity = fields.Integer()
    available_quantity = fields.Integer(attribute="available")
    on_sale = fields.Boolean()


TIERS_EXAMPLE = [
    {"tier": "VIP", "price": "100.00", "currency": "USD", "capacity": 100, "availableQuantity": 97, "onSale": True}]


TIER_EVENT = {  # one Server-Sent Event, as OpenAPI 3.2 describes them
    "type": "object", "required": ["data"],
    "properties": {"data": {"type": "string", "description": "JSON: the tier list"},
                   "retry": {"type": "integer", "description": "milliseconds to wait before reconnecting"}},
}


class BookRequestSchema(CamelCaseSchema):
    user_id = identifier()
    tier = identifier(max_length=32)
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1),
                              metadata={"maximum_setting": "MAX_TICKETS_PER_BOOKING"})

    @validates_schema
    def quantity_within_limit(self, data: dict[str, Any], **_: Any) -> None:
        check_quantity_limit(data.get("quantity", 0), current_app.config["MAX_TICKETS_PER_BOOKING"])


BOOK_REQUEST = {"userId": "alice", "tier": "VIP", "quantity": 2}


class BookReceiptSchema(CamelCaseSchema):
    booking_id = fields.UUID()
    tier = fields.String()
    booked_quantity = fields.Integer(attribute="quantity")
    remaining_quantity = fields.Integer(attribute="remaining")
    status = fields.String(metadata={"enum": ["confirmed"]})


@blp.route("")
class Tickets(MethodView):
    @blp.response(200, TicketSchema(many=True), example=TIERS_EXAMPLE)
    @blp.errors("STORE_UNAVAILABLE")
    def get(self) -> Any:
        """List the tiers with price and available tickets."""
        return services().view.list_tiers()


@blp.route("/stream")
class TicketStream(MethodView):
    @blp.alt_response(200, success=True, schema=TIER_EVENT, content_type="text/event-stream",
                      description="Server-Sent Events (this schema: one event): each `data:` is the tier list "
                                  "as `GET /api/tickets` gives it, in JSON, sent first and then whenever it "
                                  "changes; the stream ends after `SSE_MAX_SECONDS` and its `retry:` tells the "
                                  "browser when to reconnect.",
                      example={"data": json.dumps(TIERS_EXAMPLE, separators=(",", ":")), "retry": 1000})
    @blp.errors("STORE_UNAVAILABLE")
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
    @blp.arguments(BookRequestSchema(), error_status_code=400, example=BOOK_REQUEST)
    @blp.response(201, BookReceiptSchema(), example={
        "bookingId": BOOKING_ID, "tier": "VIP", "bookedQuantity": 2, "remainingQuantity": 95, "status": "confirmed"})
    @blp.errors(*JSON_BODY, *COMMAND, "TICKET_NOT_FOUND", "SALES_CLOSED", "INSUFFICIENT_TICKETS",
                "USER_LIMIT_EXCEEDED", "IDEMPOTENCY_KEY_REUSED", "TOO_MANY_REQUESTS", *QUEUE_PASS)
    @blp.doc(parameters=[IDEMPOTENCY_KEY_HEADER, QUEUE_PASS_HEADER])
    def post(self, request: dict[str, Any]) -> Any:
        """Book tickets on a tier; ``remainingQuantity`` is read from the tier just saved. While a
        waiting room is on for the tier, only with the user's pass (``Queue-Pass``)."""
        require_pass(request["user_id"], request["tier"])
        key = idempotency_key()
        receipt = services().ledger.book(request["user_id"], request["tier"], request["quantity"], key)
        event("booked", booking_id=receipt.booking_id, tier=receipt.tier, quantity=receipt.quantity)
        return receipt
