"""The waiting room as both its resources show it: the buyers' ``GET /api/queue`` and the
admin's ``/api/admin/waiting-room``."""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from application.waiting_room.rooms import RoomStatus
from web.schemas.fields import ResponseSchema

ROOM_ID = "0b9c6f0e-5d0c-4a57-9d43-1c5f0a4f7e21"  # of the examples
OPENS_AT = "2026-11-24T10:00:00+00:00"
# The queue's own answers besides the body's: its store not answering.
QUEUE = ("QUEUE_UNAVAILABLE",)


class RoomSchema(ResponseSchema):
    """Every field is always there: null while no room is on."""

    active = fields.Boolean(
        required=True,
        metadata={
            "description": "whether a waiting room is on (answering a close: false, with the room's final counts)"
        },
    )
    room_id = fields.String(required=True, allow_none=True)
    tiers = fields.List(
        fields.String(), required=True, allow_none=True, metadata={"description": "null: every tier (or no room)"}
    )
    opens_at = fields.DateTime(format="iso", required=True, allow_none=True)
    opened = fields.Boolean(required=True, allow_none=True, metadata={"description": "the opening time has passed"})
    rate = fields.Float(required=True, allow_none=True, metadata={"description": "buyers admitted per second now"})
    auto_rate = fields.Boolean(required=True, allow_none=True)
    max_rate = fields.Float(required=True, allow_none=True)
    pass_seconds = fields.Integer(required=True, allow_none=True)
    joined = fields.Integer(required=True, allow_none=True)
    admitted = fields.Integer(required=True, allow_none=True)
    waiting = fields.Integer(required=True, allow_none=True)
    passes = fields.Integer(
        required=True, allow_none=True, metadata={"description": "admitted buyers who collected their pass"}
    )


ROOM_EXAMPLE = {
    "active": True,
    "roomId": ROOM_ID,
    "tiers": ["VIP"],
    "opensAt": OPENS_AT,
    "opened": True,
    "rate": 250.0,
    "autoRate": False,
    "maxRate": 250.0,
    "passSeconds": 300,
    "joined": 20480,
    "admitted": 1200,
    "waiting": 19280,
    "passes": 1187,
}
NO_ROOM = {"active": False, **{name: None for name in RoomSchema().fields if name != "active"}}


def room_answer(room: RoomStatus | None, active: bool = True) -> dict[str, Any]:
    """The room as the API shows it; ``active=False`` with a room: its final counts at close."""
    if room is None:
        return NO_ROOM
    return {"active": active, **vars(room), "waiting": room.waiting}
