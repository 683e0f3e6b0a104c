"""``/api/tickets``: what is on sale (from the read tables, also as a live stream) and
booking (a command)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from marshmallow import fields

from domain.bookings import BookingStatus
from web.http.logs import event
from web.http.server_contract import DIRECT_WRITES
from web.http.stream import STREAM, event_stream, one_line
from web.http.tier_board import CACHE_CONTROL
from web.http.tier_news import Followed
from web.identity.users import acting_user, user_endpoint
from web.openapi.apidoc import (
    CACHEABLE,
    IF_NONE_MATCH_HEADER,
    JSON_BODY,
    SALE,
    Blueprint,
)
from web.openapi.error_examples import BOOKING_ID
from web.schemas.bookings import BOOK_REQUEST, QUEUE_PASS_HEADER, BookRequestSchema, queue_pass
from web.schemas.fields import IDEMPOTENCY_KEY_HEADER, ResponseSchema, idempotency_key
from web.schemas.tiers import ListedTierSchema
from web.services import services

blp = Blueprint("tickets", __name__, url_prefix="/api/tickets", description="Ticket tiers and booking")


TIERS_EXAMPLE = [
    {"tier": "VIP", "price": "100.00", "currency": "USD", "capacity": 100, "availableQuantity": 97, "onSale": True}
]


STREAM_EXAMPLE = f"retry: 1000\n\ndata: {one_line(TIERS_EXAMPLE)}\n\n: heartbeat\n\n"


class BookReceiptSchema(ResponseSchema):
    booking_id = fields.UUID()
    tier = fields.String()
    booked_quantity = fields.Integer(attribute="quantity")
    remaining_quantity = fields.Integer(attribute="remaining")
    status = fields.String(
        metadata={
            "enum": [BookingStatus.CONFIRMED.value, BookingStatus.CANCELLED.value],
            "description": "`confirmed`, or `cancelled` when a retry under its "
            "`Idempotency-Key` finds it cancelled since",
        }
    )


@blp.route("")
class TierList(MethodView):
    @blp.response(200, ListedTierSchema(many=True), example=TIERS_EXAMPLE, headers=CACHEABLE)
    @blp.alt_response(
        304,
        success=True,
        headers=CACHEABLE,
        description="Not Modified: the list is still the one `If-None-Match` names (no body)",
    )
    @blp.errors("STORE_UNAVAILABLE")
    @blp.doc(parameters=[IF_NONE_MATCH_HEADER])
    def get(self) -> Any:
        """List the tiers with price and available tickets. The answer carries an ``ETag``: sent back
        as ``If-None-Match`` it gets ``304 Not Modified`` while the list is unchanged."""
        board = services().board.get()
        headers = {"ETag": board.etag, "Cache-Control": CACHE_CONTROL}
        if board.unchanged_for(request.headers.get("If-None-Match")):
            return Response(status=304, headers=headers)
        return Response(board.body, mimetype="application/json", headers=headers)


@blp.route("/stream")
class TierListStream(MethodView):
    @blp.alt_response(
        200,
        success=True,
        schema=STREAM,
        content_type="text/event-stream",
        description="Server-Sent Events: first `retry: 1000` (milliseconds a browser waits "
        "before reconnecting), then an event whose one `data:` line is the tier list "
        "as `GET /api/tickets` gives it (JSON on one line), sent at once and again "
        "whenever it changes; a `: heartbeat` comment every 15 s without a change. "
        "The stream ends after `SSE_MAX_SECONDS`.",
        example=STREAM_EXAMPLE,
    )
    @blp.errors("STORE_UNAVAILABLE")
    def get(self) -> Response:
        """The tier list, live (for the web page)."""
        news = services().tier_news
        writes = request.environ.get(DIRECT_WRITES)
        return event_stream(Followed(news, current_app.config["SSE_MAX_SECONDS"], writes=writes))


@blp.route("/book")
class Book(MethodView):
    @user_endpoint
    @blp.arguments(BookRequestSchema(), error_status_code=400, example=BOOK_REQUEST)
    @blp.response(
        201,
        BookReceiptSchema(),
        example={
            "bookingId": BOOKING_ID,
            "tier": "VIP",
            "bookedQuantity": 2,
            "remainingQuantity": 95,
            "status": "confirmed",
        },
    )
    @blp.errors(*JSON_BODY, *SALE, "STORE_UNAVAILABLE", "TOO_MANY_REQUESTS", "PAYMENT_REQUIRED")
    @blp.doc(parameters=[IDEMPOTENCY_KEY_HEADER, QUEUE_PASS_HEADER])
    def post(self, request: dict[str, Any]) -> Any:
        """Book tickets on a tier; ``remainingQuantity`` is read from the tier just saved. While a
        waiting room is on for the tier, only with the user's pass (``Queue-Pass``)."""
        user = acting_user(request["user_id"])
        receipt = services().checkout.book(user, request["tier"], request["quantity"], idempotency_key(), queue_pass())
        event("booked", booking_id=receipt.booking_id, tier=receipt.tier, quantity=receipt.quantity)
        return receipt
