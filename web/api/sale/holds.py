"""``/api/tickets/hold`` and ``/api/holds/<id>/...``: the cart pattern.

A hold is a booking in status ``held``: its tickets are out of sale until ``expiresAt``
(``HOLD_SECONDS`` after it was placed, default 10 minutes). Its user confirms it (the
booking becomes ``confirmed``, with the same id) or releases it; otherwise the
hold-expiry process ends it (``expired``). Confirming or releasing twice returns the
same booking; confirming at or after ``expiresAt`` is refused with ``HOLD_EXPIRED``.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields

from domain.bookings import BookingStatus
from web.http.logs import event
from web.identity.users import acting_user, user_endpoint
from web.openapi.apidoc import COMMAND, JSON_BODY, SALE, Blueprint
from web.openapi.error_examples import BOOKING_ID
from web.schemas.bookings import (
    BOOK_REQUEST,
    BOOKING,
    QUEUE_PASS_HEADER,
    BookingSchema,
    BookRequestSchema,
    CancelRequestSchema,
    parse_booking_id,
    queue_pass,
)
from web.schemas.fields import IDEMPOTENCY_KEY_HEADER, ResponseSchema, idempotency_key
from web.services import services

blp = Blueprint("holds", __name__, url_prefix="/api", description="Holds: tickets set aside until confirmed or expired")

EXPIRES_AT = "2026-11-24T08:51:16.609600+00:00"
HELD = {**BOOKING, "status": "held", "expiresAt": EXPIRES_AT}
# Ending a hold: who asks, and the codes it may meet besides the command's own.
ENDING = (*JSON_BODY, *COMMAND, "BOOKING_NOT_FOUND", "HOLD_NOT_ACTIVE", "HOLD_EXPIRED", "TOO_MANY_REQUESTS")


class HoldReceiptSchema(ResponseSchema):
    hold_id = fields.UUID(attribute="booking_id", metadata={"description": "the id of the booking it becomes"})
    tier = fields.String()
    held_quantity = fields.Integer(attribute="quantity")
    remaining_quantity = fields.Integer(attribute="remaining")
    status = fields.String(
        metadata={
            "enum": [status.value for status in BookingStatus],
            "description": "`held`, or what became of it (a retry with its key)",
        }
    )
    expires_at = fields.DateTime(format="iso")


@blp.route("/tickets/hold")
class PlaceHold(MethodView):
    @user_endpoint
    @blp.arguments(BookRequestSchema(), error_status_code=400, example=BOOK_REQUEST)
    @blp.response(
        201,
        HoldReceiptSchema(),
        example={
            "holdId": BOOKING_ID,
            "tier": "VIP",
            "heldQuantity": 2,
            "remainingQuantity": 95,
            "status": "held",
            "expiresAt": EXPIRES_AT,
        },
    )
    @blp.errors(*JSON_BODY, *SALE, "STORE_UNAVAILABLE", "TOO_MANY_REQUESTS")
    @blp.doc(parameters=[IDEMPOTENCY_KEY_HEADER, QUEUE_PASS_HEADER])
    def post(self, request: dict[str, Any]) -> Any:
        """Hold tickets for the user until ``expiresAt``; an ``Idempotency-Key`` works as
        on booking (one key names one booking or hold), and so does the waiting room's pass."""
        user = acting_user(request["user_id"])
        receipt = services().checkout.hold(user, request["tier"], request["quantity"], idempotency_key(), queue_pass())
        event("held", booking_id=receipt.booking_id, tier=receipt.tier, quantity=receipt.quantity)
        return receipt


@blp.route("/holds/<hold_id>/confirm")
class ConfirmHold(MethodView):
    @user_endpoint
    @blp.arguments(CancelRequestSchema(), error_status_code=400, example={"userId": "alice"})
    @blp.response(200, BookingSchema(), example={**HELD, "status": "confirmed"})
    @blp.errors(*ENDING, "PAYMENT_REQUIRED")  # a paid tier's hold is confirmed by its payment
    def post(self, request: dict[str, Any], hold_id: str) -> Any:
        """Confirm the user's hold before it expires: it becomes a confirmed booking."""
        booking = services().ledger.confirm_hold(parse_booking_id(hold_id), acting_user(request["user_id"]))
        event("confirmed", booking_id=booking.booking_id, tier=booking.tier, quantity=booking.quantity)
        return booking


@blp.route("/holds/<hold_id>/release")
class ReleaseHold(MethodView):
    @user_endpoint
    @blp.arguments(CancelRequestSchema(), error_status_code=400, example={"userId": "alice"})
    @blp.response(200, BookingSchema(), example={**HELD, "status": "released"})
    @blp.errors(*ENDING)
    def post(self, request: dict[str, Any], hold_id: str) -> Any:
        """Give the user's hold up: its tickets go back on sale at once."""
        booking = services().ledger.release_hold(parse_booking_id(hold_id), acting_user(request["user_id"]))
        event("released", booking_id=booking.booking_id, tier=booking.tier, quantity=booking.quantity)
        return booking
