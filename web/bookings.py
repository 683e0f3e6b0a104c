"""``/api/bookings`` and ``/api/users/<userId>/bookings``: reading and cancelling."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields

from application import BookingNotFoundError
from web.schemas import CamelCaseSchema, identifier, idempotency_key
from web.logs import event
from web.services import services

blp = Blueprint("bookings", __name__, url_prefix="/api", description="Bookings")


class BookingSchema(CamelCaseSchema):
    booking_id = fields.UUID()
    user_id = fields.String()
    tier = fields.String()
    quantity = fields.Integer()
    status = fields.String()
    created_at = fields.DateTime(format="iso")
    updated_at = fields.DateTime(format="iso")
    expires_at = fields.DateTime(format="iso", allow_none=True, metadata={"description": "Holds only."})


class CancelRequestSchema(CamelCaseSchema):
    """Who asks: only a booking's own user may cancel it, or confirm or release its hold."""

    user_id = identifier()


def parse_booking_id(text: str) -> UUID:
    """A path id that is not a UUID names no booking: 404, like any unknown id."""
    try:
        return UUID(text)
    except ValueError:
        raise BookingNotFoundError(f"No booking {text!r}.") from None


@blp.route("/bookings/<booking_id>")
class BookingResource(MethodView):
    @blp.response(200, BookingSchema())
    def get(self, booking_id: str) -> Any:
        """One booking, from the bookings read table."""
        row = services().view.get_booking(str(parse_booking_id(booking_id)))
        if row is None:
            raise BookingNotFoundError(f"No booking {booking_id!r}.")
        return row


@blp.route("/bookings/<booking_id>/cancel")
class CancelBooking(MethodView):
    @blp.arguments(CancelRequestSchema(), error_status_code=400)
    @blp.response(200, BookingSchema())
    def post(self, request: dict[str, Any], booking_id: str) -> Any:
        """Cancel the user's own booking and put its tickets back on sale. A retry
        with the same ``Idempotency-Key`` returns the cancelled booking again."""
        booking = services().ledger.cancel(parse_booking_id(booking_id), request["user_id"], idempotency_key())
        event("cancelled", booking_id=booking.booking_id, tier=booking.tier, quantity=booking.quantity)
        return booking


@blp.route("/users/<user_id>/bookings")
class UserBookings(MethodView):
    @blp.response(200, BookingSchema(many=True))
    def get(self, user_id: str) -> Any:
        """A user's bookings, newest first."""
        return services().view.bookings_of_user(user_id)
