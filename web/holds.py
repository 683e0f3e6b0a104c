"""``/api/tickets/hold`` and ``/api/holds/<id>/...``: the cart pattern.

A hold is a booking in status ``held``: its tickets are out of sale until ``expiresAt``
(``HOLD_SECONDS`` after it was placed, default 10 minutes). Its user confirms it (the
booking becomes ``confirmed``, with the same id) or releases it; otherwise the
hold-expiry process ends it (``expired``). Confirming or releasing twice returns the
same booking; confirming after ``expiresAt`` is refused with ``HOLD_EXPIRED``.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields

from web.bookings import BookingSchema, CancelRequestSchema, parse_booking_id
from web.logs import event
from web.schemas import CamelCaseSchema, idempotency_key
from web.services import services
from web.tickets import BookRequestSchema

blp = Blueprint("holds", __name__, url_prefix="/api", description="Holds: tickets set aside until confirmed or expired")


class HoldReceiptSchema(CamelCaseSchema):
    hold_id = fields.UUID(attribute="booking_id")
    tier = fields.String()
    held_quantity = fields.Integer(attribute="quantity")
    remaining_quantity = fields.Integer(attribute="remaining")
    status = fields.String()
    expires_at = fields.DateTime(format="iso")


@blp.route("/tickets/hold")
class PlaceHold(MethodView):
    @blp.arguments(BookRequestSchema(), error_status_code=400)
    @blp.response(201, HoldReceiptSchema())
    def post(self, request: dict[str, Any]) -> Any:
        """Hold tickets for the user until ``expiresAt``; takes an ``Idempotency-Key``
        exactly like booking."""
        receipt = services().ledger.hold(request["user_id"], request["tier"], request["quantity"], idempotency_key())
        event("held", booking_id=receipt.booking_id, tier=receipt.tier, quantity=receipt.quantity)
        return receipt


@blp.route("/holds/<hold_id>/confirm")
class ConfirmHold(MethodView):
    @blp.arguments(CancelRequestSchema(), error_status_code=400)
    @blp.response(200, BookingSchema())
    def post(self, request: dict[str, Any], hold_id: str) -> Any:
        """Confirm the user's hold before it expires: it becomes a confirmed booking."""
        booking = services().ledger.confirm_hold(parse_booking_id(hold_id), request["user_id"])
        event("confirmed", booking_id=booking.booking_id, tier=booking.tier, quantity=booking.quantity)
        return booking


@blp.route("/holds/<hold_id>/release")
class ReleaseHold(MethodView):
    @blp.arguments(CancelRequestSchema(), error_status_code=400)
    @blp.response(200, BookingSchema())
    def post(self, request: dict[str, Any], hold_id: str) -> Any:
        """Give the user's hold up: its tickets go back on sale at once."""
        booking = services().ledger.release_hold(parse_booking_id(hold_id), request["user_id"])
        event("released", booking_id=booking.booking_id, tier=booking.tier, quantity=booking.quantity)
        return booking
