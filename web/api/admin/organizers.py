"""``/api/admin/organizers``: the operator founds organizers; an organizer's owner builds its
team (a role per member), issues and revokes its API keys; its readers see who did what.
Behind ``require_admin_token`` like every admin endpoint, so ``web/identity/roles.py``
decides who may call each one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from flask.views import MethodView
from marshmallow import RAISE, fields, validate

from application.audit.staff_activity import KINDS, activity, narrowed
from application.staff.errors import CredentialNotFoundError, MemberNotFoundError
from domain.organizers import ORGANIZER_CODE
from domain.staff import Role
from web.api.admin.staff import DONE, DoneSchema, send_reset
from web.identity.staff import Principal, accounts, principal
from web.identity.tokens import require_admin_token
from web.openapi.apidoc import ADMIN, ADMIN_SECURITY, JSON_BODY, Blueprint
from web.schemas.fields import PRINTABLE, CamelCaseSchema, QueryInteger, ResponseSchema
from web.services import services

blp = Blueprint(
    "organizers", __name__, url_prefix="/api/admin/organizers", description="Organizers, their teams and keys"
)
blp.before_request(require_admin_token)
ROLE = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))


def who() -> Principal:
    found = principal()
    if found is None:
        raise RuntimeError("an admin view ran without require_admin_token")
    return found


class NewOrganizerSchema(CamelCaseSchema):
    organizer = fields.String(required=True, validate=validate.Regexp(f"^{ORGANIZER_CODE.pattern}$"))
    name = fields.String(required=True, validate=[validate.Length(min=1, max=100), validate.Regexp(PRINTABLE)])


class OrganizerSchema(ResponseSchema):
    organizer = fields.String()
    name = fields.String()


class NewMemberSchema(CamelCaseSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    role = ROLE
    password = fields.String(
        load_default=None,
        validate=validate.Length(min=12, max=1024),
        metadata={"description": "the account's first password; without one, it is invited by a reset email"},
    )


class MemberRowSchema(ResponseSchema):
    member_id = fields.UUID(attribute="id")
    email = fields.String()
    role = fields.String()
    second_factor = fields.Boolean()


class NewKeySchema(CamelCaseSchema):
    name = fields.String(required=True, validate=[validate.Length(min=1, max=100), validate.Regexp(PRINTABLE)])
    role = ROLE
    expires_in_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=366))


class IssuedKeySchema(ResponseSchema):
    key_id = fields.UUID(attribute="id")
    key = fields.String(attribute="secret", metadata={"description": "shown this once: only its hash is kept"})
    expires_at = fields.DateTime(allow_none=True)


class ActivityQuerySchema(CamelCaseSchema):
    kind = fields.String(
        load_default=None,
        validate=validate.OneOf(KINDS),
        metadata={"description": "only actions on this sort of thing"},
    )
    search = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": "only actions whose actor, names, subject, detail or booking hold this (case aside)"},
    )
    limit = QueryInteger(
        load_default=None, validate=validate.Range(min=1, max=10_000), metadata={"description": "only the newest"}
    )


class ActivitySchema(ResponseSchema):
    at = fields.DateTime()
    actor = fields.String(
        allow_none=True, metadata={"description": "`member:<id>`, `key:<id>`, `device:<id>`, `operator`, `system`"}
    )
    actor_name = fields.String(
        allow_none=True, metadata={"description": "the member's email, the key's or device's name"}
    )
    what = fields.String(
        metadata={"description": "the event: `CapacityAdded`, `PriceChanged`, `RoleGranted`, `TicketCheckedIn`..."}
    )
    subject = fields.String(metadata={"description": "what it was done to: a tier, a member's email, a ticket's id..."})
    kind = fields.String(metadata={"description": f"the sort of thing it was done to: {', '.join(KINDS)}"})
    detail = fields.String(
        metadata={
            "description": "what it came to: a price and capacity, tickets added, a new price (`from 5.00 to 6.50`), "
            "a role, a gate"
        }
    )
    booking_id = fields.String(allow_none=True, metadata={"description": "a scan's or a staff cancellation's booking"})


MEMBER_ROW = {
    "memberId": "9b96bdcf-b9c0-511c-a66e-5acd7fff4f8d",
    "email": "bo@example.org",
    "role": "box_office",
    "secondFactor": True,
}
ISSUED_KEY = {
    "keyId": "182b7e1a-1b9d-4f4b-919a-d8c8f7b4bdc1",
    "key": "182b7e1a-1b9d-4f4b-919a-d8c8f7b4bdc1.Jx0c9mDk2…",
    "expiresAt": "2027-01-06T10:00:00+00:00",
}
ACTION = {
    "at": "2026-12-07T13:57:35.119778+00:00",
    "actor": "member:9b96bdcf-b9c0-511c-a66e-5acd7fff4f8d",
    "actorName": "bo@example.org",
    "what": "CapacityAdded",
    "subject": "GIG1",
    "kind": "tier",
    "detail": "10 tickets added",
    "bookingId": None,
}
SCAN_ACTION = {
    "at": "2026-12-07T19:02:11.504112+00:00",
    "actor": "device:3f0e8f52-8d3c-4a0e-9f44-2b1b8f0c2a41",
    "actorName": "North door, phone 1",
    "what": "TicketCheckedIn",
    "subject": "5a3c1d0e-77b2-5f5e-9d61-0c8e2f4b7a19",
    "kind": "door",
    "detail": "gate north-1",
    "bookingId": "0b8e6c1a-3a52-4c2e-8f0f-6f1d2a9b4e77",
}


@blp.route("")
class Organizers(MethodView):
    @blp.arguments(NewOrganizerSchema(), error_status_code=400, example={"organizer": "acme", "name": "Acme Live"})
    @blp.response(201, OrganizerSchema(), example={"organizer": "acme", "name": "Acme Live"})
    @blp.errors(*ADMIN, *JSON_BODY, "STORE_UNAVAILABLE", "ORGANIZER_ALREADY_EXISTS")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, body: dict[str, Any]) -> Any:
        """Found an organizer (the operator's alone: ``ADMIN_TOKEN``)."""
        code = accounts().found_organizer(body["organizer"], body["name"], who().actor)
        return {"organizer": code, "name": body["name"]}


@blp.route("/<organizer>/members")
class Members(MethodView):
    @blp.response(200, MemberRowSchema(many=True), example=[MEMBER_ROW])
    @blp.errors(*ADMIN, "STORE_UNAVAILABLE", "FORBIDDEN", "ORGANIZER_NOT_FOUND")
    @blp.doc(security=ADMIN_SECURITY)
    def get(self, organizer: str) -> Any:
        """The organizer's team and each one's role there."""
        return [
            {"id": m.id, "email": m.email, "role": m.roles[organizer].value, "second_factor": m.second_factor}
            for m in accounts().members_of(organizer)
            if organizer in m.roles
        ]

    @blp.arguments(NewMemberSchema(), error_status_code=400, example={"email": "bo@example.org", "role": "box_office"})
    @blp.response(201, MemberRowSchema(), example=MEMBER_ROW)
    @blp.errors(*ADMIN, "STORE_UNAVAILABLE", "FORBIDDEN", *JSON_BODY, "ORGANIZER_NOT_FOUND")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, body: dict[str, Any], organizer: str) -> Any:
        """Give someone a role at the organizer (making their account if needed; an account
        made without a password is mailed a reset link to set one)."""
        member = accounts().add_member(organizer, body["email"], Role(body["role"]), body["password"], who().actor)
        if body["password"] is None:
            invited = accounts().request_reset(body["email"])
            if invited:
                send_reset(*invited)
        found = accounts().member(member)
        return {"id": found.id, "email": found.email, "role": body["role"], "second_factor": found.second_factor}


@blp.route("/<organizer>/members/<member_id>")
class Member(MethodView):
    @blp.response(200, DoneSchema(), example=DONE)
    @blp.errors(*ADMIN, "STORE_UNAVAILABLE", "FORBIDDEN", "ORGANIZER_NOT_FOUND", "MEMBER_NOT_FOUND")
    @blp.doc(security=ADMIN_SECURITY)
    def delete(self, organizer: str, member_id: str) -> Any:
        """Take the member's role at the organizer away."""
        accounts().remove_member(organizer, parse_id(member_id, MemberNotFoundError), who().actor)
        return DONE


@blp.route("/<organizer>/api-keys")
class ApiKeys(MethodView):
    @blp.arguments(NewKeySchema(), error_status_code=400, example={"name": "ci", "role": "viewer", "expiresInDays": 30})
    @blp.response(201, IssuedKeySchema(), example=ISSUED_KEY)
    @blp.errors(*ADMIN, "STORE_UNAVAILABLE", "FORBIDDEN", *JSON_BODY, "ORGANIZER_NOT_FOUND")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, body: dict[str, Any], organizer: str) -> Any:
        """Issue an API key acting for the organizer with one role until it expires; send it
        as ``Authorization: Bearer <key>``. Shown once."""
        lifetime = timedelta(days=body["expires_in_days"])
        return accounts().issue(organizer, "key", body["name"], Role(body["role"]), None, lifetime, who().actor)


@blp.route("/<organizer>/api-keys/<key_id>/revoke")
class RevokeKey(MethodView):
    @blp.response(200, DoneSchema(), example=DONE)
    @blp.errors(
        *ADMIN, "UNSUPPORTED_MEDIA_TYPE", "STORE_UNAVAILABLE", "FORBIDDEN", "ORGANIZER_NOT_FOUND", "KEY_NOT_FOUND"
    )
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, organizer: str, key_id: str) -> Any:
        """Revoke a key: refused from the next request on, on every host."""
        accounts().revoke(organizer, parse_id(key_id, CredentialNotFoundError), who().actor)
        return DONE


@blp.route("/<organizer>/activity")
class Activity(MethodView):
    @blp.arguments(ActivityQuerySchema(), location="query", error_status_code=400, unknown=RAISE)
    @blp.response(200, ActivitySchema(many=True), example=[ACTION, SCAN_ACTION])
    @blp.errors(*ADMIN, "VALIDATION_ERROR", "STORE_UNAVAILABLE", "FORBIDDEN", "ORGANIZER_NOT_FOUND")
    @blp.doc(security=ADMIN_SECURITY)
    def get(self, query: dict[str, Any], organizer: str) -> Any:
        """Who did what at the organizer, oldest first: each staff-made event and each scan
        of its door devices (from the read tables), its actor, the actor's name and when."""
        accounts().organizer(organizer)
        found = services()
        done = activity(found.ledger, accounts().owner_of, organizer, found.view.device_scans())
        return narrowed(done, query["kind"], query["search"], query["limit"])


def parse_id(text: str, missing: type[Exception]) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise missing(f"No {text!r}.") from None
