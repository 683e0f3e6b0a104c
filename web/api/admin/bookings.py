"""``/api/admin/bookings/<booking_id>/cancel``: staff cancel a booking for its user, at the
counter. It is the user's own cancellation (``PaymentDesk.cancel_for_user``: the refund of
a paid booking, the door's rule that an admitted ticket is not refunded), its event naming
who did it. ``web/identity/roles.py`` decides who may: the booking's tier's organizer
decides, and to a stranger the booking does not exist."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from web.api.sale.bookings import BOOKING_ENDED, CANCELLED, after_cancel
from web.identity.staff import actor
from web.identity.tokens import require_admin_token
from web.openapi.apidoc import ADMIN, ADMIN_SECURITY, COMMAND, Blueprint
from web.schemas.bookings import BookingSchema, parse_booking_id
from web.schemas.fields import IDEMPOTENCY_KEY_HEADER, idempotency_key
from web.services import services

blp = Blueprint("staff_bookings", __name__, url_prefix="/api/admin/bookings", description="Bookings, by staff")
blp.before_request(require_admin_token)


@blp.route("/<booking_id>/cancel")
class CancelForUser(MethodView):
    @blp.response(200, BookingSchema(), example=CANCELLED)  # VALIDATION_ERROR below: a bad Idempotency-Key
    @blp.errors(*ADMIN, "FORBIDDEN", "UNSUPPORTED_MEDIA_TYPE", "VALIDATION_ERROR", *COMMAND, "BOOKING_NOT_FOUND",
                *BOOKING_ENDED, "BOOKING_CHECKED_IN")  # fmt: skip
    @blp.doc(security=ADMIN_SECURITY, parameters=[IDEMPOTENCY_KEY_HEADER])
    def post(self, booking_id: str) -> Any:
        """Cancel a booking for its user, as the user's own cancel does (a paid one with the
        refund its event's policy gives); the cancellation names who did it. A retry with
        the same ``Idempotency-Key`` returns the cancelled booking again."""
        who = actor()
        return after_cancel(
            services().payments.cancel_for_user(parse_booking_id(booking_id), who, idempotency_key()), who
        )
