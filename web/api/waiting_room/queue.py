"""``/api/queue``: the on-sale waiting room, as buyers see it.

Join with your user id and get a place (the API calls it a queue ticket); follow it
(``GET``, at the ``pollAfterSeconds`` it suggests, or as Server-Sent Events) until it says
you are admitted, with a pass to send as the ``Queue-Pass`` header when booking or holding.
While no room is on these endpoints say so (``GET /api/queue``: ``active: false``; joining:
409) and booking needs no pass. The room's logic is in ``application/waiting_room/rooms.py``,
the pass's check in ``checkout.py`` beside it; docs/on-sale.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from marshmallow import fields
from redis.exceptions import RedisError

from application.waiting_room.places import (
    ADMITTED,
    CLOSED,
    EXPIRED,
    SOLD_OUT,
    WAITING,
    PlaceStatus,
)
from web.api.waiting_room.rooms import OPENS_AT, QUEUE, ROOM_EXAMPLE, RoomSchema, room_answer
from web.http.queue_answer import JOIN_REFUSED
from web.http.stream import STREAM, event_stream, events, one_line
from web.identity.user_ids import UserId
from web.identity.users import acting_user, user_endpoint
from web.openapi.apidoc import CACHEABLE, IF_NONE_MATCH_HEADER, JSON_BODY, Blueprint
from web.schemas.bookings import QUEUE_PASS
from web.schemas.fields import CamelCaseSchema, ResponseSchema
from web.services import services

blp = Blueprint("queue", __name__, url_prefix="/api/queue", description="The waiting room of an on-sale")

PLACE_EVERY_SECONDS = 5.0  # how often a waiting place's stream sends its new position and wait
TICKET = (  # place 1612 of the example room, signed
    "WyIwYjljNmYwZS01ZDBjLTRhNTctOWQ0My0xYzVmMGE0ZjdlMjEucTNLOW1CMXg3WWNFMHBUbjRacld2QSIsImFsaWNlIiwxNjEyLDBd"
    ".5EmB8vCwVNzDJ2S2AgwTkumrK9g"
)
PASS = "WyIwYjljNmYwZS01ZDBjLTRhNTctOWQ0My0xYzVmMGE0ZjdlMjEiLCJhbGljZSIsMTc2NDAwMDAwMC4wXQ.Xb3k2m9dJ0pZ8vJqYt1sR4uW6eA"


class JoinRequestSchema(CamelCaseSchema):
    user_id = UserId()


class PlaceSchema(ResponseSchema):
    openapi_name = "QueueTicket"

    ticket_id = fields.String(
        metadata={
            "description": "keep it to yourself: it is how you collect your pass. Signed: it holds your "
            "place even if the queue's store loses it (take the latest one each answer gives)"
        }
    )
    user_id = fields.String(allow_none=True)
    state = fields.String(
        metadata={
            "enum": [WAITING, ADMITTED, EXPIRED, SOLD_OUT, CLOSED],
            "description": "`waiting`; `admitted` (book with `queuePass` before `passExpiresAt`); "
            "`expired` (join again, at the back); `soldOut`; `closed` (no room: book directly)",
        }
    )
    message = fields.String(metadata={"description": "for people"})
    number = fields.Integer(
        allow_none=True,
        metadata={
            "description": "your place: your turn has come once the room's frontier "
            "(`GET /api/queue/frontier`, `admitted`) reaches it; null before the opening (drawn then)"
        },
    )
    position = fields.Integer(
        allow_none=True,
        metadata={"description": "1: next to be admitted; null before the opening (places are drawn then)"},
    )
    joined = fields.Integer(allow_none=True, metadata={"description": "buyers who have joined"})
    admitted = fields.Integer(allow_none=True, metadata={"description": "places admitted so far"})
    estimated_wait_seconds = fields.Float(attribute="estimated_wait", allow_none=True)
    poll_after_seconds = fields.Float(
        attribute="poll_after", allow_none=True, metadata={"description": "when to look again; null: no need to"}
    )
    opens_at = fields.DateTime(format="iso", allow_none=True)
    queue_pass = fields.String(allow_none=True, metadata={"description": f"send as the `{QUEUE_PASS}` header"})
    pass_expires_at = fields.DateTime(format="iso", allow_none=True)


WAITING_EXAMPLE = {
    "ticketId": TICKET,
    "userId": "alice",
    "state": WAITING,
    "message": "You are number 412 in the queue.",
    "number": 1612,
    "position": 412,
    "joined": 20480,
    "admitted": 1200,
    "estimatedWaitSeconds": 4.1,
    "pollAfterSeconds": 2.05,
    "opensAt": OPENS_AT,
    "queuePass": None,
    "passExpiresAt": None,
}
ADMITTED_EXAMPLE = {
    **WAITING_EXAMPLE,
    "state": ADMITTED,
    "message": "Your turn: book within 300 s, with this pass.",
    "position": 0,
    "estimatedWaitSeconds": 0.0,
    "pollAfterSeconds": None,
    "queuePass": PASS,
    "passExpiresAt": "2026-11-24T10:05:04+00:00",
}


@blp.route("")
class Queue(MethodView):
    @blp.response(200, RoomSchema(), example=ROOM_EXAMPLE)
    @blp.errors(*QUEUE)
    def get(self) -> Any:
        """Whether a waiting room is on, for which tiers, from when, and how long the queue is."""
        return room_answer(services().rooms.status())

    @user_endpoint
    @blp.arguments(JoinRequestSchema(), error_status_code=400, example={"userId": "alice"})
    @blp.response(
        201,
        PlaceSchema(),
        example=WAITING_EXAMPLE,
        description="a new place (at the back, or drawn at the opening if it is still to come)",
    )
    @blp.alt_response(
        200,
        schema=PlaceSchema(),
        example=WAITING_EXAMPLE,
        description="the place the user has already (one place per user)",
    )
    @blp.errors(*JSON_BODY, *QUEUE, "WAITING_ROOM_OFF")
    def post(self, body: dict[str, Any]) -> Any:
        """Join the queue. Joining again returns the same ticket, unless its pass lapsed:
        then a new place at the back."""
        refused = request.environ.get(JOIN_REFUSED)  # by the room, already: web/http/queue_answer.py
        if refused is not None:
            raise refused
        place, new = services().rooms.join(acting_user(body["user_id"]))
        return place, 201 if new else 200


# A shared cache in front (the edge) may answer every waiting browser from one request a second.
FRONTIER_CACHE_CONTROL = "public, max-age=1"


class FrontierSchema(ResponseSchema):
    """Every field is always there: null while no room is on."""

    active = fields.Boolean(required=True, metadata={"description": "whether a waiting room is on"})
    room_id = fields.String(required=True, allow_none=True)
    opens_at = fields.DateTime(format="iso", required=True, allow_none=True)
    admitted = fields.Integer(
        required=True,
        allow_none=True,
        metadata={
            "description": "places admitted so far: a ticket whose `number` is at most this may collect its pass"
        },
    )
    joined = fields.Integer(required=True, allow_none=True, metadata={"description": "places handed out"})
    rate = fields.Float(required=True, allow_none=True, metadata={"description": "places admitted per second now"})
    sold_out = fields.Boolean(
        required=True, allow_none=True, metadata={"description": "nothing left for anyone still waiting"}
    )


FRONTIER_EXAMPLE = {
    "active": True,
    "roomId": "0b9c6f0e-5d0c-4a57-9d43-1c5f0a4f7e21",
    "opensAt": OPENS_AT,
    "admitted": 1200,
    "joined": 20480,
    "rate": 250.0,
    "soldOut": False,
}


@blp.route("/frontier")
class RoomFrontier(MethodView):
    @blp.response(200, FrontierSchema(), example=FRONTIER_EXAMPLE, headers=CACHEABLE)
    @blp.alt_response(
        304,
        success=True,
        headers=CACHEABLE,
        description="Not Modified: the frontier is still the one `If-None-Match` names (no body)",
    )
    @blp.errors(*QUEUE)
    @blp.doc(parameters=[IF_NONE_MATCH_HEADER])
    def get(self) -> Response:
        """How far the room has admitted, the same answer for every buyer (``Cache-Control:
        public, max-age=1``, with an ``ETag``): follow it, and ask for your ticket's pass
        (``GET /api/queue/{ticketId}``) once ``admitted`` reaches your ticket's ``number``."""
        frontier = services().rooms.frontier()
        answer = {"active": False} if frontier is None else {"active": True, **vars(frontier)}
        body = one_line(FrontierSchema().dump({**dict.fromkeys(FrontierSchema().fields), **answer}))
        response = Response(body, mimetype="application/json", headers={"Cache-Control": FRONTIER_CACHE_CONTROL})
        response.add_etag()
        return response.make_conditional(request)


@blp.route("/<ticket_id>")  # the place's id, as the API names it
class Place(MethodView):
    @blp.response(200, PlaceSchema(), example=ADMITTED_EXAMPLE)
    @blp.errors(*QUEUE, "QUEUE_TICKET_NOT_FOUND")
    def get(self, ticket_id: str) -> Any:
        """A ticket's place, estimated wait and when to look again; once admitted, the pass."""
        return services().rooms.place(ticket_id)


PLACE_STREAM_EXAMPLE = f"retry: 1000\n\ndata: {one_line(WAITING_EXAMPLE)}\n\n"


@blp.route("/<ticket_id>/stream")
class PlaceStream(MethodView):
    @blp.alt_response(
        200,
        success=True,
        schema=STREAM,
        content_type="text/event-stream",
        description="Server-Sent Events: first `retry: 1000`, then an event whose one `data:` "
        "line is the ticket as `GET /api/queue/{ticketId}` gives it (JSON on one line), "
        "sent at once, again within half a second when its state changes (admitted, sold "
        "out), and with its new place and wait every 5 s; a `: heartbeat` comment every "
        "15 s without a change. The stream ends with the first state other than `waiting`, "
        "or after `SSE_MAX_SECONDS`.",
        example=PLACE_STREAM_EXAMPLE,
    )
    @blp.errors(*QUEUE, "QUEUE_TICKET_NOT_FOUND")
    def get(self, ticket_id: str) -> Response:
        """A ticket's place, live (for the web page)."""
        rooms, schema, watch = services().rooms, PlaceSchema(), services().place_watch
        seen: list[PlaceStatus] = []

        def read() -> str:
            seen[:] = [rooms.place(ticket_id)]
            return one_line(schema.dump(seen[0]))

        def pause(left: float) -> bool:
            """Until the place may have changed; a place no longer waiting has said its last word."""
            place = seen[0]
            if place.state != WAITING:
                return False
            number = None if place.position is None else place.position + (place.admitted or 0)
            watch.wait(number, min(PLACE_EVERY_SECONDS, left, until_open(place)))
            return True

        return event_stream(events(read, current_app.config["SSE_MAX_SECONDS"], pause, unavailable=(RedisError,)))


def until_open(place: PlaceStatus) -> float:
    """Seconds until the room opens (its places are drawn then), a moment after it if it has."""
    if place.opens_at is None or place.position is not None:
        return PLACE_EVERY_SECONDS
    return max(0.05, (place.opens_at - datetime.now(UTC)).total_seconds() + 0.05)
