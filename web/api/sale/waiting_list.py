"""``/api/tickets/waiting-list`` and ``/api/users/<userId>/waiting-list/<tier>``: a sold-out
tier's waiting list (docs/on-sale.md#the-waiting-list).

A buyer who cannot have the tickets they ask for joins the tier's list; every ticket that
comes back is offered to the list in order, never sold to the public while anyone waits. An
offer is a hold in the buyer's name (``offer.holdId``, until ``offer.expiresAt``): accepted
by confirming it (``POST /api/holds/<id>/confirm``) or, on a tier that takes payment, by
paying it (``GET /api/bookings/<id>/payment``); declined by releasing it; at its deadline it
lapses and goes to the next in line.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields

from application.booking.waiting_list import PlaceAnswer
from web.http.logs import event
from web.identity.users import acting_user, user_endpoint
from web.openapi.apidoc import COMMAND, JSON_BODY, Blueprint
from web.openapi.error_examples import BOOKING_ID
from web.schemas.bookings import BOOK_REQUEST, BookRequestSchema
from web.schemas.fields import IDEMPOTENCY_KEY_HEADER, CamelCaseSchema, ResponseSchema, idempotency_key, identifier
from web.services import services

blp = Blueprint(
    "waiting_list", __name__, url_prefix="/api", description="Waiting lists: sold-out tiers' tickets offered in turn"
)

ENTRY_ID = "0f0a3b2c-5d6e-4f70-8a9b-0c1d2e3f4a5b"
EXPIRES_AT = "2026-11-25T08:41:16.609600+00:00"
WAITING = {"entryId": ENTRY_ID, "userId": "alice", "tier": "VIP", "quantity": 2, "status": "waiting",
           "position": 3, "waiting": 7, "offer": None}  # fmt: skip
OFFERED = {**WAITING, "status": "offered", "position": None, "offer": {"holdId": BOOKING_ID, "expiresAt": EXPIRES_AT}}
TIER_AND_USER = ("TICKET_NOT_FOUND", "STORE_UNAVAILABLE")
COMMANDS = (*JSON_BODY, *COMMAND, *TIER_AND_USER, "TOO_MANY_REQUESTS")  # rate-limited as buying is


class OfferSchema(ResponseSchema):
    hold_id = fields.UUID(metadata={"description": "the hold offered: confirm it (or pay it, on a paid tier)"})
    expires_at = fields.DateTime(format="iso", metadata={"description": "when it lapses to the next in line"})


class PlaceSchema(ResponseSchema):
    entry_id = fields.UUID()
    user_id = fields.String()
    tier = fields.String()
    quantity = fields.Integer()
    status = fields.String(metadata={"enum": ["waiting", "offered", "left"]})
    position = fields.Integer(allow_none=True, metadata={"description": "1: next in line; null once offered or left"})
    waiting = fields.Integer(metadata={"description": "places waiting on the tier's list now (offers not counted)"})
    offer = fields.Nested(OfferSchema(), allow_none=True, metadata={"description": "the open offer, if any"})


class LeaveRequestSchema(CamelCaseSchema):
    user_id = identifier()
    tier = identifier(max_length=32)


def answer(found: PlaceAnswer) -> dict[str, Any]:
    place = found.place
    offer = None if place.offer is None else {"hold_id": place.offer, "expires_at": place.offer_expires_at}
    return {
        "entry_id": place.entry_id,
        "user_id": place.user_id,
        "tier": place.tier,
        "quantity": place.quantity,
        "status": found.status,
        "position": place.position,
        "waiting": found.waiting,
        "offer": offer,
    }


@blp.route("/tickets/waiting-list")
class JoinWaitingList(MethodView):
    @user_endpoint
    @blp.arguments(BookRequestSchema(), error_status_code=400, example=BOOK_REQUEST)
    @blp.response(201, PlaceSchema(), example=WAITING)
    @blp.errors(
        *COMMANDS, "TIER_NOT_SOLD_OUT", "ALREADY_WAITING", "SALES_CLOSED",
        "SALES_NOT_OPEN", "USER_LIMIT_EXCEEDED", "IDEMPOTENCY_KEY_REUSED",
    )  # fmt: skip
    @blp.doc(parameters=[IDEMPOTENCY_KEY_HEADER])
    def post(self, request: dict[str, Any]) -> Any:
        """Join a tier's waiting list for ``quantity`` tickets the tier cannot sell now; an
        ``Idempotency-Key`` makes a retry the same place."""
        user = acting_user(request["user_id"])
        found = services().waiting_list.join(user, request["tier"], request["quantity"], idempotency_key())
        event("joined_waiting_list", tier=found.place.tier, quantity=found.place.quantity)
        return answer(found)


@blp.route("/tickets/waiting-list/leave")
class LeaveWaitingList(MethodView):
    @user_endpoint
    @blp.arguments(LeaveRequestSchema(), error_status_code=400, example={"userId": "alice", "tier": "VIP"})
    @blp.response(200, PlaceSchema(), example={**WAITING, "status": "left", "position": None})
    @blp.errors(*COMMANDS, "NOT_ON_WAITING_LIST")
    def post(self, request: dict[str, Any]) -> Any:
        """Leave a tier's waiting list (an offer is declined by releasing its hold)."""
        found = services().waiting_list.leave(acting_user(request["user_id"]), request["tier"])
        event("left_waiting_list", tier=found.place.tier, quantity=found.place.quantity)
        return answer(found)


@blp.route("/users/<user_id>/waiting-list/<tier>")
class PlaceOnWaitingList(MethodView):
    @user_endpoint
    @blp.response(200, PlaceSchema(), example=OFFERED)
    @blp.errors(*TIER_AND_USER, "NOT_ON_WAITING_LIST")
    def get(self, user_id: str, tier: str) -> Any:
        """The user's place on the tier's list now: its position, or the offer made to them."""
        return answer(services().waiting_list.place(acting_user(user_id), tier))
