"""``/api/admin/waiting-room``: turn the on-sale waiting room on and off, set its rate,
and read its audit trail. Behind the same bearer token as the rest of ``/api/admin``."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from marshmallow import ValidationError, fields, validate

from domain.tiers import TIER_CODE
from domain.waiting_room import MAX_PASS_SECONDS, MAX_RATE, MIN_PASS_SECONDS
from web.api.waiting_room.rooms import QUEUE, ROOM_EXAMPLE, RoomSchema, room_answer
from web.identity.tokens import require_admin_token
from web.openapi.apidoc import ADMIN, ADMIN_SECURITY, JSON_BODY, Blueprint
from web.schemas.fields import CamelCaseSchema, ResponseSchema
from web.services import services

blp = Blueprint(
    "waiting_room_admin",
    __name__,
    url_prefix="/api/admin/waiting-room",
    description="The on-sale waiting room's administration (bearer token)",
)
blp.before_request(require_admin_token)
# The room log is written with every change: its store's answers too.
CHANGE = (*ADMIN, *JSON_BODY, *QUEUE, "STORE_UNAVAILABLE")


class Number(fields.Float):
    """A JSON number only: no numeric string, no boolean (which marshmallow would take)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("Not a valid number.")
        return super()._deserialize(value, attr, data, **kwargs)


class Flag(fields.Boolean):
    """``true`` or ``false`` only (marshmallow would take 0, 1, "yes" and more)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Not a valid boolean.")
        return value


def rate_field(**kwargs: Any) -> fields.Float:
    return Number(validate=validate.Range(min=0, max=MAX_RATE), **kwargs)


class RateSchema(CamelCaseSchema):
    rate = rate_field(
        required=True,
        metadata={
            "description": "buyers admitted per second (0 pauses admission); with `autoRate`, the rate to start from"
        },
    )
    auto_rate = Flag(
        load_default=False,
        metadata={"description": "let the rate follow what the ledger sustains (AIMD on admitted buyers' booking p95)"},
    )


class OpenRoomSchema(RateSchema):
    tiers = fields.List(
        fields.String(validate=validate.Regexp(f"^{TIER_CODE.pattern}$")),
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "omit for every tier"},
    )
    opens_at = fields.AwareDateTime(
        format="iso",
        load_default=None,
        metadata={"description": "omit to open now; joins before it form a pre-queue whose order is drawn at random"},
    )
    max_rate = rate_field(
        load_default=None,
        metadata={"description": "the automatic rate's ceiling (default: none); an automatic rate starts at most here"},
    )
    pass_seconds = fields.Integer(
        strict=True,
        load_default=None,
        validate=validate.Range(min=MIN_PASS_SECONDS, max=MAX_PASS_SECONDS),
        metadata={"description": "how long a pass lasts (default `QUEUE_PASS_SECONDS`)"},
    )


class RoomEventDetailsSchema(ResponseSchema):
    """An event's own fields: every one is there, null where the event has none."""

    tiers = fields.List(fields.String(), allow_none=True, metadata={"description": "Opened: null for every tier"})
    opens_at = fields.DateTime(format="iso", allow_none=True, metadata={"description": "Opened"})
    rate = fields.Float(allow_none=True, metadata={"description": "Opened, RateChanged"})
    auto_rate = fields.Boolean(allow_none=True, metadata={"description": "Opened, RateChanged"})
    pass_seconds = fields.Integer(allow_none=True, metadata={"description": "Opened"})
    reason = fields.String(allow_none=True, metadata={"description": "RateChanged: who or what changed it, and why"})
    joined = fields.Integer(allow_none=True, metadata={"description": "AdmissionsCounted, Closed"})
    admitted = fields.Integer(allow_none=True, metadata={"description": "AdmissionsCounted, Closed"})
    passes = fields.Integer(allow_none=True, metadata={"description": "AdmissionsCounted, Closed"})


NO_DETAILS = dict.fromkeys(RoomEventDetailsSchema().fields)


class RoomEventSchema(ResponseSchema):
    version = fields.Integer()
    event = fields.String(metadata={"enum": ["Opened", "RateChanged", "AdmissionsCounted", "Closed"]})
    at = fields.DateTime(format="iso")
    details = fields.Nested(RoomEventDetailsSchema())


NULLS = {
    "tiers": None,
    "opensAt": None,
    "rate": None,
    "autoRate": None,
    "passSeconds": None,
    "reason": None,
    "joined": None,
    "admitted": None,
    "passes": None,
}
EVENTS_EXAMPLE = [
    {
        "version": 1,
        "event": "Opened",
        "at": "2026-11-24T09:55:00+00:00",
        "details": {
            **NULLS,
            "tiers": ["VIP"],
            "opensAt": "2026-11-24T10:00:00+00:00",
            "rate": 250.0,
            "autoRate": False,
            "passSeconds": 300,
        },
    },
    {
        "version": 2,
        "event": "AdmissionsCounted",
        "at": "2026-11-24T10:00:10+00:00",
        "details": {**NULLS, "joined": 20480, "admitted": 2500, "passes": 2461},
    },
]


@blp.route("")
class WaitingRoomAdmin(MethodView):
    @blp.response(200, RoomSchema(), example=ROOM_EXAMPLE)
    @blp.errors(*ADMIN, *QUEUE)
    @blp.doc(security=ADMIN_SECURITY)
    def get(self) -> Any:
        """The room that is on, with its counts (``active: false`` if none)."""
        return room_answer(services().rooms.status())

    @blp.arguments(
        OpenRoomSchema(),
        error_status_code=400,
        example={"tiers": ["VIP"], "opensAt": "2026-11-24T10:00:00+00:00", "rate": 250, "passSeconds": 300},
    )
    @blp.response(201, RoomSchema(), example=ROOM_EXAMPLE)
    @blp.errors(*CHANGE, "WAITING_ROOM_ALREADY_ON")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, body: dict[str, Any]) -> Any:
        """Turn the waiting room on: from now on booking or holding its tiers needs a pass."""
        pass_seconds = body["pass_seconds"] or int(current_app.config["QUEUE_PASS_SECONDS"])
        max_rate = body["max_rate"] if body["max_rate"] is not None else MAX_RATE
        return room_answer(
            services().rooms.turn_on(
                body["tiers"], body["opens_at"], body["rate"], body["auto_rate"], max_rate, pass_seconds
            )
        )


@blp.route("/rate")
class Rate(MethodView):
    @blp.arguments(RateSchema(), error_status_code=400, example={"rate": 400})
    @blp.response(200, RoomSchema(), example={**ROOM_EXAMPLE, "rate": 400.0})
    @blp.errors(*CHANGE, "WAITING_ROOM_OFF")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, body: dict[str, Any]) -> Any:
        """Change the admission rate, or hand it to (or take it from) the automatic rate."""
        return room_answer(services().rooms.change_rate(body["rate"], body["auto_rate"]))


@blp.route("/close")
class Close(MethodView):
    @blp.response(200, RoomSchema(), example={**ROOM_EXAMPLE, "active": False})
    @blp.errors(*ADMIN, "UNSUPPORTED_MEDIA_TYPE", *QUEUE, "STORE_UNAVAILABLE", "WAITING_ROOM_OFF")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self) -> Any:
        """Turn the waiting room off, recording its final counts: booking needs no pass any more."""
        return room_answer(services().rooms.turn_off(), active=False)


@blp.route("/<room_id>/events")
class Events(MethodView):
    @blp.response(200, RoomEventSchema(many=True), example=EVENTS_EXAMPLE)
    @blp.errors(*ADMIN, "STORE_UNAVAILABLE", "WAITING_ROOM_NOT_FOUND")
    @blp.doc(security=ADMIN_SECURITY)
    def get(self, room_id: str) -> Any:
        """A room's audit trail: opened, rate changes and why, admission counts, closed."""
        return [
            {**vars(event), "details": {**NO_DETAILS, **event.details}} for event in services().rooms.events(room_id)
        ]
