"""``/api/orders``: several tiers in one purchase, all or nothing (2 VIP and 3 GA, or none).

An order is decided and recorded with the group commit like a booking (``BookingLedger.order``):
the tiers' version checks stop an oversell, an ``Idempotency-Key`` makes a retry safe, each
tier's per-user limit holds, and while a waiting room is on for a tier the order needs the
user's pass. Each item becomes a booking of its own, cancelled and checked in per tier.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields, validate, validates_schema

from application import no_booking
from domain.bookings import BookingStatus, same_user
from domain.orders import MAX_ITEMS
from web.http.logs import event
from web.identity.user_ids import UserId
from web.identity.users import acting_user, token_user, user_endpoint
from web.openapi.apidoc import JSON_BODY, SALE, Blueprint
from web.openapi.error_examples import BOOKING_ID
from web.schemas.bookings import QUEUE_PASS_HEADER, parse_booking_id, queue_pass
from web.schemas.fields import (
    IDEMPOTENCY_KEY_HEADER,
    CamelCaseSchema,
    ResponseSchema,
    check_quantity_limit,
    idempotency_key,
    identifier,
    ticket_quantity,
)
from web.services import services

blp = Blueprint("orders", __name__, url_prefix="/api/orders", description="Orders across tiers")
ORDER_ID = "3d5e7f90-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


class ItemSchema(CamelCaseSchema):
    tier = identifier(max_length=32)
    quantity = ticket_quantity()

    @validates_schema
    def quantity_within_limit(self, data: dict[str, Any], **_: Any) -> None:
        check_quantity_limit(data.get("quantity", 0))


class OrderRequestSchema(CamelCaseSchema):
    user_id = UserId()
    items = fields.List(
        fields.Nested(ItemSchema()),
        required=True,
        validate=validate.Length(min=1, max=MAX_ITEMS),
        metadata={"description": "each tier once"},
    )

    @validates_schema
    def each_tier_once(self, data: dict[str, Any], **_: Any) -> None:
        tiers = [item["tier"] for item in data.get("items", [])]
        if len(set(tiers)) != len(tiers):
            raise validate.ValidationError("Name each tier once: add up its quantities.", "items")


class OrderItemSchema(ResponseSchema):
    booking_id = fields.UUID()
    tier = fields.String()
    booked_quantity = fields.Integer(attribute="quantity")
    remaining_quantity = fields.Integer(attribute="remaining")
    status = fields.String(
        metadata={
            "enum": [BookingStatus.CONFIRMED.value, BookingStatus.CANCELLED.value],
            "description": "this item's booking, now",
        }
    )


class OrderSchema(ResponseSchema):
    order_id = fields.UUID()
    user_id = fields.String()
    items = fields.List(fields.Nested(OrderItemSchema()))


ITEM = {"bookingId": BOOKING_ID, "tier": "VIP", "bookedQuantity": 2, "remainingQuantity": 95, "status": "confirmed"}
ORDER = {
    "orderId": ORDER_ID,
    "userId": "alice",
    "items": [ITEM, {**ITEM, "bookingId": "9c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "tier": "GA", "bookedQuantity": 3}],
}
ORDER_REQUEST = {"userId": "alice", "items": [{"tier": "VIP", "quantity": 2}, {"tier": "GA", "quantity": 3}]}


@blp.route("")
class Orders(MethodView):
    @user_endpoint
    @blp.arguments(OrderRequestSchema(), error_status_code=400, example=ORDER_REQUEST)
    @blp.response(201, OrderSchema(), example=ORDER)
    @blp.errors(*JSON_BODY, *SALE, "STORE_UNAVAILABLE", "TOO_MANY_REQUESTS", "PAYMENT_REQUIRED")
    @blp.doc(parameters=[IDEMPOTENCY_KEY_HEADER, QUEUE_PASS_HEADER])
    def post(self, request: dict[str, Any]) -> Any:
        """Buy several tiers at once: every item or none. A refusal names the first item that
        cannot be had (not enough left, closed, over the per-user limit) and records nothing."""
        user = acting_user(request["user_id"])
        items = [(item["tier"], item["quantity"]) for item in request["items"]]
        receipt = services().checkout.order(user, items, idempotency_key(), queue_pass())
        event("ordered", order_id=receipt.order_id, items=len(items))
        return receipt


@blp.route("/<order_id>")
class OrderResource(MethodView):
    @user_endpoint
    @blp.response(200, OrderSchema(), example=ORDER)
    @blp.errors("BOOKING_NOT_FOUND", "STORE_UNAVAILABLE")
    def get(self, order_id: str) -> Any:
        """An order and each of its bookings as they are now (in token mode, only the user's
        own), read from the ledger. An unknown order is 404, as an unknown booking."""
        found = parse_booking_id(order_id)  # not a UUID: no order, the same 404 as an unknown one
        receipt = services().ledger.order_receipt(found)
        reader = token_user()
        if receipt is None or (reader is not None and not same_user(receipt.user_id, reader)):
            raise no_booking(found)
        return receipt
