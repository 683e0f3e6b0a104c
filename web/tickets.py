"""``/api/tickets``: what is on sale (from the read tables) and booking (a command)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from marshmallow import fields, validate, validates_schema

from web.apidoc import BOOKING_ID, COMMAND, IDEMPOTENCY_KEY_HEADER, JSON_BODY, Blueprint
from web.schemas import CamelCaseSchema, Money, check_quantity_limit, identifier, idempotency_key
from web.logs import event
from web.services import services

blp = Blueprint("tickets", __name__, url_prefix="/api/tickets", description="Ticket tiers and booking")


class TicketSchema(CamelCaseSchema):
    tier = fields.String()
    price = Money()
    currency = fields.Constant("USD", metadata={"type": "string", "enum": ["USD"]})
    capacity = fields.Integer()
    available_quantity = fields.Integer(attribute="available")
    on_sale = fields.Boolean()


class BookRequestSchema(CamelCaseSchema):
    user_id = identifier()
    tier = identifier(max_length=32)
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1),
                              metadata={"maximum_setting": "MAX_TICKETS_PER_BOOKING"})

    @validates_schema
    def quantity_within_limit(self, data: dict[str, Any], **_: Any) -> None:
        check_quantity_limit(data.get("quantity", 0), current_app.config["MAX_TICKETS_PER_BOOKING"])


class BookReceiptSchema(CamelCaseSchema):
    booking_id = fields.UUID()
    tier = fields.String()
    booked_quantity = fields.Integer(attribute="quantity")
    remaining_quantity = fields.Integer(attribute="remaining")
    status = fields.String(metadata={"enum": ["confirmed"]})


@blp.route("")
class Tickets(MethodView):
    @blp.response(200, TicketSchema(many=True), example=[
        {"tier": "VIP", "price": "100.00", "currency": "USD", "capacity": 100, "availableQuantity": 97, "onSale": True}])
    @blp.errors("STORE_UNAVAILABLE")
    def get(self) -> Any:
        """List the tiers with price and available tickets."""
        return services().view.list_tiers()


@blp.route("/book")
class Book(MethodView):
    @blp.arguments(BookRequestSchema(), error_status_code=400, example={"userId": "alice", "tier": "VIP", "quantity": 2})
    @blp.response(201, BookReceiptSchema(), example={
        "bookingId": BOOKING_ID, "tier": "VIP", "bookedQuantity": 2, "remainingQuantity": 95, "status": "confirmed"})
    @blp.errors(*JSON_BODY, *COMMAND, "TICKET_NOT_FOUND", "SALES_CLOSED", "INSUFFICIENT_TICKETS",
                "USER_LIMIT_EXCEEDED", "IDEMPOTENCY_KEY_REUSED", "TOO_MANY_REQUESTS")
    @blp.doc(parameters=[IDEMPOTENCY_KEY_HEADER])
    def post(self, request: dict[str, Any]) -> Any:
        """Book tickets on a tier; ``remainingQuantity`` is read from the tier just saved."""
        key = idempotency_key()
        receipt = services().ledger.book(request["user_id"], request["tier"], request["quantity"], key)
        event("booked", booking_id=receipt.booking_id, tier=receipt.tier, quantity=receipt.quantity)
        return receipt
