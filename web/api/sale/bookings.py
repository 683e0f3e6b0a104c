"""``/api/bookings`` and ``/api/users/<userId>/bookings``: reading and cancelling."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from application import no_booking
from domain.bookings import BookingSummary, same_user
from projections.read_model.own_writes import bookings_of_user
from web.http.logs import event
from web.identity.user_ids import stored_forms
from web.identity.users import acting_user, token_user, user_endpoint
from web.openapi.apidoc import COMMAND, JSON_BODY, Blueprint
from web.schemas.bookings import BOOKING, BookingSchema, CancelRequestSchema, parse_booking_id
from web.schemas.fields import IDEMPOTENCY_KEY_HEADER, PRINTABLE, idempotency_key
from web.services import services

blp = Blueprint("bookings", __name__, url_prefix="/api", description="Bookings")


BOOKING_ENDED = ("BOOKING_ALREADY_CANCELLED", "BOOKING_NOT_CONFIRMED")
CANCELLED = {**BOOKING, "status": "cancelled", "updatedAt": "2026-11-24T08:45:02.120311+00:00"}


@blp.route("/bookings/<booking_id>")
class BookingResource(MethodView):
    @user_endpoint
    @blp.response(200, BookingSchema(), example=BOOKING)
    @blp.errors("BOOKING_NOT_FOUND", "STORE_UNAVAILABLE")
    def get(self, booking_id: str) -> Any:
        """One booking, as it is now (in token mode, only the user's own): from the
        bookings read table when it holds every event stored so far, otherwise (for the
        few milliseconds it lags, on PostgreSQL) from the ledger itself. So a client
        always reads its own write: the booking it was just sent a 201 for, the
        cancellation it was just told of."""
        found = parse_booking_id(booking_id)
        if services().projector.caught_up():
            row = services().view.get_booking(str(found))
        else:
            row = services().ledger.get_booking(found)  # no booking: the same 404 as below
        reader = token_user()
        if row is None or (reader is not None and not same_user(row.user_id, reader)):
            raise no_booking(found)
        return row


@blp.route("/bookings/<booking_id>/cancel")
class CancelBooking(MethodView):
    @user_endpoint
    @blp.arguments(CancelRequestSchema(), error_status_code=400, example={"userId": "alice"})
    @blp.response(200, BookingSchema(), example=CANCELLED)
    @blp.errors(*JSON_BODY, *COMMAND, "BOOKING_NOT_FOUND", *BOOKING_ENDED, "BOOKING_CHECKED_IN")
    @blp.doc(parameters=[IDEMPOTENCY_KEY_HEADER])
    def post(self, request: dict[str, Any], booking_id: str) -> Any:
        """Cancel the user's own booking and put its tickets back on sale (a paid one with
        the refund its event's policy gives, docs/payments.md). A retry with the same
        ``Idempotency-Key`` returns the cancelled booking again."""
        user = acting_user(request["user_id"])
        return after_cancel(services().payments.cancel(parse_booking_id(booking_id), user, idempotency_key()))


def after_cancel(booking: BookingSummary, actor: str | None = None) -> BookingSummary:
    """What follows every cancellation, its user's or staff's (``actor``): a card payment's
    refund sent through Stripe (again, if cancelled again), and the log's line."""
    cards = services().cards
    if cards:
        cards.refund_cancelled(booking.booking_id)
    by = {"actor": actor} if actor else {}
    event("cancelled", booking_id=booking.booking_id, tier=booking.tier, quantity=booking.quantity, **by)
    return booking


@blp.route("/users/<user_id>/bookings")
class UserBookings(MethodView):
    @user_endpoint
    @blp.response(200, BookingSchema(many=True), example=[BOOKING])
    @blp.errors("STORE_UNAVAILABLE")
    def get(self, user_id: str) -> Any:
        """A user's bookings, newest first (in token mode, only to that user), including those
        just made: the read tables' rows brought up to every event stored so far."""
        user_id = acting_user(user_id)
        if not PRINTABLE.fullmatch(user_id):  # no booking has such a user (nor could PostgreSQL compare it)
            return []
        return bookings_of_user(services().projector, stored_forms(user_id))
