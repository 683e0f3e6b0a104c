"""``/api/admin/events/<event_id>/devices``: an event's door devices. A manager registers a
phone or handheld for one event and gate; its token is shown once, with a QR code of the
scanner page's pairing link, and only its hash is kept. Revoking it refuses it at the
door on every host from the next request (``web/api/door/checkin.py``). Both are events
of the device's ``Credential`` naming who did them. ``web/identity/roles.py`` decides who
may call each one: the event's organizer decides, a stranger is told the event does not exist.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.views import MethodView
from marshmallow import fields

from application.checkin.qr import qr_svg
from application.errors import ShowNotFoundError
from application.staff.errors import CredentialNotFoundError
from domain.shows import DEFAULT_SHOW, Show, show_id
from domain.staff import Role
from web.api.admin.organizers import parse_id, who
from web.api.admin.staff import DONE, DoneSchema
from web.identity.staff import accounts
from web.identity.tokens import require_admin_token
from web.openapi.apidoc import ADMIN, ADMIN_SECURITY, JSON_BODY, Blueprint
from web.schemas.fields import CamelCaseSchema, ResponseSchema, identifier
from web.services import services

blp = Blueprint("devices", __name__, url_prefix="/api/admin/events", description="An event's door devices")
blp.before_request(require_admin_token)
ERRORS = (*ADMIN, "STORE_UNAVAILABLE", "FORBIDDEN", "EVENT_NOT_FOUND")


class NewDeviceSchema(CamelCaseSchema):
    name = identifier(max_length=100, metadata={"description": "whose or which it is: `North door, phone 1`"})
    gate = identifier(max_length=32, metadata={"description": "where its scanner page opens"})


class DeviceRowSchema(ResponseSchema):
    device_id = fields.UUID(attribute="id")
    name = fields.String()
    gate = fields.String(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class RegisteredDeviceSchema(ResponseSchema):
    device_id = fields.UUID(attribute="id")
    token = fields.String(metadata={"description": "shown this once: only its hash is kept"})
    pairing_url = fields.String(metadata={"description": "the scanner page, paired: open it on the device"})
    qr_svg = fields.String(metadata={"description": "the pairing link as a QR code, to scan with the device"})


DEVICE_ID = "6f1c2a4e-8d0b-4c7e-9a51-3b2d9e7f0a14"
REGISTERED = {
    "deviceId": DEVICE_ID,
    "token": f"{DEVICE_ID}.Jx0c9mDk2…",
    "pairingUrl": f"https://tickets.example.org/scanner#device={DEVICE_ID}.Jx0c9mDk2…",
    "qrSvg": '<svg width="185" height="185" class="segno">…</svg>',
}
ROW = {"deviceId": DEVICE_ID, "name": "North door, phone 1", "gate": "north-1", "revokedAt": None}


def organizer_of(event_id: str) -> str:
    """The event's organizer; EVENT_NOT_FOUND if there is no such event."""
    if event_id != DEFAULT_SHOW and services().ledger.aggregate(show_id(event_id), Show) is None:
        raise ShowNotFoundError(f"No event {event_id!r}.")
    return accounts().owner_of("show", event_id)


@blp.route("/<event_id>/devices")
class Devices(MethodView):
    @blp.response(200, DeviceRowSchema(many=True), example=[ROW])
    @blp.errors(*ERRORS)
    @blp.doc(security=ADMIN_SECURITY)
    def get(self, event_id: str) -> Any:
        """The event's door devices, revoked ones too, oldest first."""
        return accounts().devices(organizer_of(event_id), event_id)

    @blp.arguments(NewDeviceSchema(), error_status_code=400, example={"name": "North door, phone 1", "gate": "north-1"})
    @blp.response(201, RegisteredDeviceSchema(), example=REGISTERED)
    @blp.errors(*ERRORS, *JSON_BODY)
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, body: dict[str, Any], event_id: str) -> Any:
        """Register a door device for the event: its token (shown once) admits this event's
        tickets only, and names the device in every scan. Open `pairingUrl` on the device
        (or scan `qrSvg` with it): the scanner page keeps the token and opens at its gate."""
        issued = accounts().issue(
            organizer_of(event_id), "device", body["name"], Role.DOOR, event_id, None, who().actor, body["gate"]
        )
        base = current_app.config["STAFF_BASE_URL"] or request.host_url.rstrip("/")
        # In the fragment: a browser never sends it, so the token stays out of every log.
        pairing_url = f"{base}/scanner#device={issued.secret}"
        return {"id": issued.id, "token": issued.secret, "pairing_url": pairing_url, "qr_svg": qr_svg(pairing_url)}


@blp.route("/<event_id>/devices/<device_id>/revoke")
class RevokeDevice(MethodView):
    @blp.response(200, DoneSchema(), example=DONE)
    @blp.errors(*ERRORS, "UNSUPPORTED_MEDIA_TYPE", "KEY_NOT_FOUND")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, event_id: str, device_id: str) -> Any:
        """Revoke a device: refused at the door from its next request on, on every host,
        its offline uploads too (403 `DEVICE_REVOKED`)."""
        device = parse_id(device_id, CredentialNotFoundError)
        accounts().revoke(organizer_of(event_id), device, who().actor, kind="device", event_code=event_id)
        return DONE
