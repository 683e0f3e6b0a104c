"""``/api/staff``: a member of staff signs in (email, password, and the one-time code
once a second factor is on), reads who they are, turns on the second factor, signs out
here or everywhere, and resets a forgotten password by email. The session is a cookie
(``web/identity/staff.py``); changes made with it need its ``X-CSRF-Token``.
"""

from __future__ import annotations

import logging
import os
import smtplib
from email.message import EmailMessage
from typing import Any

from flask import current_app, make_response, request
from flask.views import MethodView
from marshmallow import fields, validate
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import TooManyRequests, Unauthorized

from application.checkin.qr import qr_rows
from application.staff import secrets
from application.staff.errors import SignInRefusedError
from projections.integrations.emails import EmailSettings
from web.identity.sign_in_limits import SignInLimits
from web.identity.staff import (
    Principal,
    accounts,
    clear_session_cookie,
    csrf_token,
    principal,
    set_session_cookie,
)
from web.openapi.apidoc import JSON_BODY, Blueprint
from web.schemas.fields import CamelCaseSchema, ResponseSchema

log = logging.getLogger(__name__)
blp = Blueprint("staff", __name__, url_prefix="/api/staff", description="Staff sign-in (email, password, TOTP)")
SIGN_IN_ERRORS = ("UNAUTHORIZED", "TOO_MANY_REQUESTS", "STORE_UNAVAILABLE")
# A command with the session cookie: no session, no CSRF token, a body not JSON, the store down.
SESSION_ERRORS = ("UNAUTHORIZED", "FORBIDDEN", "UNSUPPORTED_MEDIA_TYPE", "STORE_UNAVAILABLE")


class SignInSchema(CamelCaseSchema):
    email = fields.String(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(max=1024))
    code = fields.String(load_default="", validate=validate.Length(max=10))


class RoleSchema(ResponseSchema):
    organizer = fields.String()
    role = fields.String(metadata={"description": "owner, manager, box_office, door or viewer"})


class MemberSchema(ResponseSchema):
    member_id = fields.UUID()
    email = fields.String()
    roles = fields.List(fields.Nested(RoleSchema()), metadata={"description": "the member's role at each organizer"})
    second_factor = fields.Boolean()
    csrf_token = fields.String()


class SecretSchema(ResponseSchema):
    secret = fields.String()
    uri = fields.String(metadata={"description": "otpauth:// URI, for an authenticator app's QR code"})
    qr = fields.List(
        fields.String(),
        metadata={"description": "the URI's QR code, a row a string, `1` a dark module (no quiet zone)"},
    )


class ConfirmSecondFactorSchema(CamelCaseSchema):
    secret = fields.String(required=True, validate=validate.Length(min=16, max=64))
    code = fields.String(required=True, validate=validate.Length(max=10))


class DoneSchema(ResponseSchema):
    """What a command with nothing else to say answers: that it is done."""

    done = fields.Boolean()


DONE = {"done": True}


class ResetRequestSchema(CamelCaseSchema):
    email = fields.String(required=True, validate=validate.Length(max=254))


class ResetSchema(CamelCaseSchema):
    token = fields.String(required=True, validate=validate.Length(max=200))
    password = fields.String(required=True, validate=validate.Length(min=12, max=1024))


MEMBER = {
    "memberId": "9b96bdcf-b9c0-511c-a66e-5acd7fff4f8d",
    "email": "ana@example.org",
    "roles": [{"organizer": "default", "role": "owner"}],
    "secondFactor": True,
    "csrfToken": "5b0c…",
}


def limits() -> SignInLimits:
    found: SignInLimits | None = current_app.extensions.get("staff_sign_in_limits")
    if found is None:
        found = current_app.extensions["staff_sign_in_limits"] = SignInLimits(current_app.config)
    return found


def signed_in() -> Principal:
    """The member whose session cookie the request carries (401 otherwise)."""
    who = principal()
    if who is None or who.member is None or who.session_token is None:
        raise Unauthorized("Sign in first.", www_authenticate=WWWAuthenticate("bearer"))
    return who


def describe(who: Principal) -> dict[str, Any]:
    assert who.member is not None and who.session_token is not None
    member = accounts().member(who.member)
    roles = [{"organizer": organizer, "role": role.value} for organizer, role in sorted(member.roles.items())]
    return {
        "member_id": member.id,
        "email": member.email,
        "roles": roles,
        "second_factor": member.second_factor,
        "csrf_token": csrf_token(who.session_token),
    }


@blp.route("/sign-in")
class SignIn(MethodView):
    @blp.arguments(SignInSchema(), error_status_code=400, example={"email": "ana@example.org", "password": "…"})
    @blp.response(200, MemberSchema(), example=MEMBER)
    @blp.errors(*SIGN_IN_ERRORS, *JSON_BODY)
    def post(self, body: dict[str, Any]) -> Any:
        """Sign in: a new session cookie (HttpOnly, SameSite=Lax; Secure over HTTPS) and its
        CSRF token. One answer for a wrong email, password or code; 429 past the limits."""
        address = request.remote_addr or ""
        if not limits().allowed(address, body["email"]):
            raise TooManyRequests("Too many failed sign-ins: wait a while.", retry_after=60)
        try:
            session = accounts().sign_in(body["email"], body["password"], body["code"])
        except SignInRefusedError as refused:
            limits().failed(address, body["email"])
            raise Unauthorized(str(refused), www_authenticate=WWWAuthenticate("bearer")) from None
        who = Principal(f"member:{session.member}", member=session.member, session_token=session.token)
        response = make_response(MemberSchema().dump(describe(who)))
        lifetime = int((session.expires_at - accounts().clock()).total_seconds())
        set_session_cookie(response, session.member, session.token, lifetime)
        return response


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MemberSchema(), example=MEMBER)
    @blp.errors("UNAUTHORIZED", "STORE_UNAVAILABLE")
    def get(self) -> Any:
        """Who the session is, their role at each organizer, and the session's CSRF token."""
        return describe(signed_in())


@blp.route("/sign-out")
class SignOut(MethodView):
    @blp.response(200, DoneSchema(), example=DONE)
    @blp.errors(*SESSION_ERRORS)
    def post(self) -> Any:
        """End this session (its cookie is refused from now on, on every host)."""
        who = signed_in()
        assert who.member is not None and who.session_token is not None
        accounts().sign_out(who.member, who.session_token)
        response = make_response(DONE)
        clear_session_cookie(response)
        return response


@blp.route("/sign-out-everywhere")
class SignOutEverywhere(MethodView):
    @blp.response(200, DoneSchema(), example=DONE)
    @blp.errors(*SESSION_ERRORS)
    def post(self) -> Any:
        """End every session of this member, on every device."""
        who = signed_in()
        assert who.member is not None
        accounts().sign_out_everywhere(who.member, who.actor)
        response = make_response(DONE)
        clear_session_cookie(response)
        return response


@blp.route("/second-factor")
class NewSecondFactor(MethodView):
    @blp.response(
        200, SecretSchema(), example={"secret": "JBSWY3DPEHPK3PXP", "uri": "otpauth://totp/…", "qr": ["1111111001…"]}
    )
    @blp.errors(*SESSION_ERRORS)
    def post(self) -> Any:
        """A new TOTP secret to put in an authenticator app (nothing changes until confirmed)."""
        who = signed_in()
        assert who.member is not None
        secret = secrets.new_totp_secret()
        uri = secrets.totp_uri(secret, accounts().member(who.member).email)
        return {"secret": secret, "uri": uri, "qr": qr_rows(uri)}


@blp.route("/second-factor/confirm")
class ConfirmSecondFactor(MethodView):
    @blp.arguments(
        ConfirmSecondFactorSchema(), error_status_code=400, example={"secret": "JBSWY3DPEHPK3PXP", "code": "492039"}
    )
    @blp.response(200, DoneSchema(), example=DONE)
    @blp.errors(*SESSION_ERRORS, *JSON_BODY)
    def post(self, body: dict[str, Any]) -> Any:
        """Turn the second factor on with the secret and a code the app shows for it."""
        who = signed_in()
        assert who.member is not None
        try:
            accounts().enable_second_factor(who.member, body["secret"], body["code"])
        except SignInRefusedError as refused:
            raise Unauthorized(str(refused), www_authenticate=WWWAuthenticate("bearer")) from None
        return DONE


@blp.route("/password-reset")
class PasswordReset(MethodView):
    @blp.arguments(ResetRequestSchema(), error_status_code=400, example={"email": "ana@example.org"})
    @blp.response(202, DoneSchema(), example=DONE)
    @blp.errors("TOO_MANY_REQUESTS", "STORE_UNAVAILABLE", *JSON_BODY)
    def post(self, body: dict[str, Any]) -> Any:
        """Mail a reset link (valid one hour) if the account exists; the same answer if not.
        Counted as a failed sign-in, so it cannot flood a mailbox."""
        address = request.remote_addr or ""
        if not limits().allowed(address, body["email"]):
            raise TooManyRequests("Too many requests: wait a while.", retry_after=60)
        limits().failed(address, body["email"])
        found = accounts().request_reset(body["email"])
        if found is not None:
            send_reset(*found)
        return DONE, 202


@blp.route("/password-reset/confirm")
class ConfirmPasswordReset(MethodView):
    @blp.arguments(
        ResetSchema(),
        error_status_code=400,
        example={"token": "9b96bdcf-b9c0-511c-a66e-5acd7fff4f8d.4nQ…", "password": "a long new password"},
    )
    @blp.response(200, DoneSchema(), example=DONE)
    @blp.errors("RESET_REFUSED", "STORE_UNAVAILABLE", *JSON_BODY)
    def post(self, body: dict[str, Any]) -> Any:
        """Set a new password with the link's token (once); every session of the member ends."""
        accounts().reset_password(body["token"], body["password"])
        return DONE


def send_reset(email: str, token: str) -> None:
    """Mail the reset link over the confirmation emails' SMTP settings (``SMTP_*``); with
    none set, no mail can go and the operator sets a password through the admin instead."""
    settings = EmailSettings.from_env({**os.environ, **current_app.config["LEDGER_ENV"]})
    if settings is None:
        log.warning("a password reset was asked for but SMTP_HOST is not set: no email sent")
        return
    base = current_app.config["STAFF_BASE_URL"] or request.host_url.rstrip("/")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.sender, email, "Reset your password"
    message.set_content(
        f"Someone asked to reset the password of {email}.\n\n"
        f"To choose a new one within the hour, open:\n{base}/admin#reset={token}\n\n"
        "If it was not you, ignore this email: nothing changes.\n"
    )
    try:
        with settings.connect() as smtp:
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError):
        log.exception("the password reset email could not be sent")
