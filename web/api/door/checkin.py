"""``/api/checkin``: the door. Admit a ticket by its code (``POST /api/checkin``), merge an
offline gate's scans (``POST /api/checkin/uploads``), and what a scanner downloads to work
offline: the public key that checks codes and the signed list of valid tickets.

Door staff present ``SCANNER_TOKEN`` (or the admin token): a scanner lost at the door
admits tickets but cannot change a sale. With neither token set (the demo), the door is
open, as booking is without user tokens. A paired door device presents its own token
(``/api/admin/events/<event>/devices``): it admits only its event's tickets, each scan
names it, and once revoked it is refused (403 ``DEVICE_REVOKED``) on every host from the
next request, its offline uploads too: the store is read at every request.
"""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, g, request
from flask.views import MethodView
from marshmallow import fields, validate
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import NotFound, Unauthorized

from application.checkin.codes import PREFIX
from application.checkin.door import SHARED, OfflineScan, Scanner
from application.staff.accounts import CredentialDetails
from application.staff.errors import DeviceRevokedError
from domain.shows import DEFAULT_SHOW, Show, show_id
from domain.tickets import ticket_id
from web.api.door.examples import ADMISSION, CODE, DEVICE, TICKET_LIST, UPLOAD, UPLOADED
from web.identity.tokens import bearer_secret, presents
from web.openapi.apidoc import COMMAND, JSON_BODY, Blueprint
from web.schemas.fields import CamelCaseSchema, ResponseSchema, identifier
from web.services import services

blp = Blueprint("checkin", __name__, url_prefix="/api/checkin", description="Check-in at the door (scanner token)")
DOOR = ("UNAUTHORIZED", "DEVICE_REVOKED")
MAX_SCANS_PER_UPLOAD = 50  # a request body stays under MAX_CONTENT_LENGTH; a scanner sends several


@blp.before_request
def require_scanner() -> None:
    """Who scans, kept in ``g.scanner``: the shared token's holder (or anyone, with no
    token set), or a door device; 401 for anything else, 403 for a revoked device."""
    if request.method == "OPTIONS":
        return
    tokens = [t for t in (current_app.config["ADMIN_TOKEN"], current_app.config["SCANNER_TOKEN"]) if t]
    g.scanner = SHARED if tokens and presents(tokens) else device_scanner()
    if g.scanner is None and tokens:
        raise Unauthorized("Authentication required.", www_authenticate=WWWAuthenticate("bearer"))
    g.scanner = g.scanner or SHARED  # with no token set, the open door of the demo


def device_scanner() -> Scanner | None:
    """The door device whose token the request carries, if any; a revoked one is refused."""
    secret = bearer_secret()
    found = services().staff.authentic(secret) if secret else None
    if found is None or found.kind != "device":
        return None
    if not found.valid(services().staff.clock()):
        raise DeviceRevokedError(
            "This device was revoked: it may not scan, and its scans kept offline are not merged "
            "(settle them with the event's manager)."
        )
    g.device = found
    return Scanner(found.actor, found.event_code)


def ticket_code() -> fields.String:
    return fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"example": CODE, "description": "exactly as issued: `TL1.` then 112 characters of [A-Za-z0-9_-]"},
    )


class ScanSchema(CamelCaseSchema):
    code = ticket_code()
    gate = identifier(max_length=32)
    scan_id = identifier(
        load_default=None,
        required=False,
        metadata={
            "description": "the scanner's own id for this scan, unique at its gate: the same ticket sent again "
            "with the same gate and scanId is answered as the first time"
        },
    )


class AdmissionSchema(ResponseSchema):
    ticket_id = fields.UUID()
    booking_id = fields.UUID()
    seat = fields.Integer(metadata={"description": "0 for a booking's first ticket"})
    tier = fields.String()
    user_id = fields.String()
    gate = fields.String()
    checked_in_at = fields.DateTime(format="iso")


class OfflineScanSchema(CamelCaseSchema):
    scan_id = identifier(metadata={"description": "the scanner's own id for this scan, unique at its gate"})
    code = ticket_code()
    scanned_at = fields.AwareDateTime(required=True, format="iso")


class UploadSchema(CamelCaseSchema):
    gate = identifier(max_length=32)
    scans = fields.List(
        fields.Nested(OfflineScanSchema()), required=True, validate=validate.Length(min=1, max=MAX_SCANS_PER_UPLOAD)
    )


class FirstScanSchema(ResponseSchema):
    gate = fields.String()
    scanned_at = fields.DateTime(format="iso")
    scan_id = fields.String()


class MergedScanSchema(ResponseSchema):
    scan_id = fields.String()
    outcome = fields.String(metadata={"enum": ["admitted", "conflict", "refused"]})
    ticket_id = fields.String(allow_none=True)
    first = fields.Nested(
        FirstScanSchema(), allow_none=True, metadata={"description": "a conflict's admission: the scan that came first"}
    )
    reason = fields.String(allow_none=True, metadata={"description": "why a scan was refused"})


class UploadAnswerSchema(ResponseSchema):
    gate = fields.String()
    admitted = fields.Integer()
    conflicts = fields.Integer()
    refused = fields.Integer()
    results = fields.List(fields.Nested(MergedScanSchema()))


class ListedTicketSchema(ResponseSchema):
    ticket_id = fields.UUID()
    booking_id = fields.UUID()
    seat = fields.Integer()
    tier = fields.String()
    checked_in = fields.Boolean()


class TicketListSchema(ResponseSchema):
    public_key = fields.String(metadata={"description": "Ed25519, raw, URL-safe base64: checks codes and this list"})
    code_prefix = fields.Constant(PREFIX, metadata={"type": "string"})
    tickets = fields.List(fields.Nested(ListedTicketSchema()))
    signature = fields.String(
        metadata={"description": "Ed25519 over the JSON of `tickets` (keys sorted, no spaces), URL-safe base64"}
    )


@blp.route("")
class CheckIn(MethodView):
    @blp.arguments(ScanSchema(), error_status_code=400, example={"code": CODE, "gate": "north-1"})
    @blp.response(200, AdmissionSchema(), example=ADMISSION)
    @blp.errors(*JSON_BODY, *COMMAND, *DOOR, "INVALID_TICKET_CODE", "ALREADY_CHECKED_IN", "TICKET_NOT_VALID")
    def post(self, scan: dict[str, Any]) -> Any:
        """Admit a ticket: once. A second scan is 409 `ALREADY_CHECKED_IN` with when and at
        which gate the first was; a code this ledger did not sign is 422; a cancelled
        booking's ticket is 409 `TICKET_NOT_VALID`. Nothing is recorded but an admission."""
        return services().door.check_in(scan["code"], scan["gate"], scan["scan_id"], g.scanner)


@blp.route("/uploads")
class Uploads(MethodView):
    @blp.arguments(UploadSchema(), error_status_code=400, example=UPLOAD)
    @blp.response(200, UploadAnswerSchema(), example=UPLOADED)
    @blp.errors(*JSON_BODY, *COMMAND, *DOOR)
    def post(self, upload: dict[str, Any]) -> Any:
        """Merge the scans a gate made offline (at most 50 a request), in the order they
        were made: each becomes an admission, or a **conflict** if its ticket was admitted
        first elsewhere (both kept; the answer names the first), or is refused (forged,
        cancelled). Sent again, an upload records nothing more and gets the same answer."""
        scans = [OfflineScan(s["scan_id"], s["code"], s["scanned_at"]) for s in upload["scans"]]
        results = services().door.merge(upload["gate"], scans, g.scanner)
        count = {outcome: sum(r.outcome == outcome for r in results) for outcome in ("admitted", "conflict", "refused")}
        return {
            "gate": upload["gate"],
            "admitted": count["admitted"],
            "conflicts": count["conflict"],
            "refused": count["refused"],
            "results": results,
        }


@blp.route("/tickets")
class TicketList(MethodView):
    @blp.response(200, TicketListSchema(), example=TICKET_LIST)
    @blp.errors(*DOOR, "STORE_UNAVAILABLE")
    def get(self) -> Any:
        """What a scanner needs offline: every ticket that admits (confirmed bookings'), whether
        it was admitted when the list was read, and the public key; signed, so a scanner
        can trust a copy it was handed. Codes need no list: the key checks them. A door
        device gets its own event's tickets only."""
        event_code = g.scanner.event_code
        ours = services().door.tiers_of(event_code) if event_code is not None else None
        tickets = [
            {
                "ticket_id": ticket_id(booking, seat),
                "booking_id": booking,
                "seat": seat,
                "tier": tier,
                "checked_in": seat in admitted,
            }
            for booking, tier, seats, admitted in services().view.valid_tickets()
            if ours is None or tier in ours
            for seat in range(seats)
        ]
        dumped = ListedTicketSchema(many=True).dump(tickets)
        codes = services().door.codes
        signed = json.dumps(dumped, sort_keys=True, separators=(",", ":")).encode()
        return {"public_key": codes.public_key_text(), "tickets": tickets, "signature": codes.sign_bytes(signed)}


class DeviceSchema(ResponseSchema):
    device_id = fields.UUID(attribute="id")
    name = fields.String()
    event_id = fields.String(attribute="event_code")
    event_name = fields.String()
    gate = fields.String(allow_none=True, metadata={"description": "where its scanner page opens"})


@blp.route("/device")
class Device(MethodView):
    @blp.response(200, DeviceSchema(), example=DEVICE)
    @blp.errors(*DOOR, "NOT_FOUND", "STORE_UNAVAILABLE")
    def get(self) -> Any:
        """The door device asking: its name, event and gate, where its scanner page opens
        (404 for the shared scanner token, which is no device)."""
        device: CredentialDetails | None = g.get("device")
        if device is None:
            raise NotFound("The shared scanner token is no device.")
        return {**device.__dict__, "event_name": event_name(device.event_code or DEFAULT_SHOW)}


def event_name(code: str) -> str:
    if code == DEFAULT_SHOW:
        return str(current_app.config["DEFAULT_EVENT_NAME"])
    show = services().ledger.aggregate(show_id(code), Show)
    return show.name if show is not None else code
