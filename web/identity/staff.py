"""Who on the staff asks, from what the request carries: the operator (``ADMIN_TOKEN``),
a member signed in with a browser session (a cookie), or an API key (a bearer secret); a
door device's token is the door's alone (``web/api/door/checkin.py``). ``principal()``
finds it once per request and keeps it in ``g``.

A session's cookie is ``<member id>.<token>``; the store keeps only the token's hash, so
a sign-out or a password change ends it on every host at its next request. The cookie is
HttpOnly, SameSite=Lax, ``Secure`` (and named ``__Host-staff``) when the request came
over HTTPS. A request that changes something with a cookie must also carry
``X-CSRF-Token`` (a MAC of the session's token under the store's secret, given at
sign-in and by ``GET /api/staff/me``) and, if it has an ``Origin``, this server's own:
docs/security.md says why both.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from uuid import UUID

from flask import Response, current_app, g, request
from werkzeug.exceptions import Forbidden

from application.staff.accounts import StaffAccounts
from domain.staff import OPERATOR, Role
from web.identity.tokens import has_admin_token
from web.services import services

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Principal:
    """Who asks: ``actor`` names them in the events they cause; ``roles`` maps each
    organizer they act for to their role there (the operator: every organizer)."""

    actor: str
    roles: dict[str, Role] = field(default_factory=dict)
    operator: bool = False
    member: UUID | None = None
    session_token: str | None = None  # a browser session's, for the CSRF check and sign-out

    def role_at(self, organizer: str) -> Role | None:
        return Role.OWNER if self.operator else self.roles.get(organizer)


OPERATOR_PRINCIPAL = Principal(OPERATOR, operator=True)


def accounts() -> StaffAccounts:
    return services().staff


def cookie_name() -> str:
    return "__Host-staff" if secure_cookie() else "staff"


def secure_cookie() -> bool:
    setting = str(current_app.config["STAFF_COOKIE_SECURE"]).lower()
    return request.is_secure if setting == "auto" else setting in ("1", "true", "yes")


def principal() -> Principal | None:
    """Who asks, or None (no credentials, or none valid). Raises 403 for a cookie-borne
    change without the CSRF token or from another origin."""
    if "staff_principal" not in g:
        g.staff_principal = find_principal()
    found: Principal | None = g.staff_principal
    return found


def find_principal() -> Principal | None:
    if has_admin_token():
        return OPERATOR_PRINCIPAL
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret:
        credential = accounts().credential(secret.strip())
        if credential is None or credential.kind != "key":
            return None  # a door device scans (``web/api/door``); it is nobody on the admin side
        roles = {credential.organizer: credential.role}
        return Principal(credential.actor, roles)
    return session_principal()


def session_principal() -> Principal | None:
    member_text, _, token = request.cookies.get(cookie_name(), "").partition(".")
    try:
        member = UUID(member_text)
    except ValueError:
        return None
    found = accounts().session(member, token)
    if found is None:
        return None
    if request.method not in SAFE_METHODS:
        check_csrf(token)
    return Principal(found.actor, found.roles, member=found.id, session_token=token)


def actor() -> str:
    """Who the admin request comes from, as its events name them (``require_admin_token``
    has let it through, so someone is there)."""
    found = principal()
    if found is None:
        raise RuntimeError("actor() outside an admin request")
    return found.actor


def csrf_token(session_token: str) -> str:
    secret: bytes = services().ledger.secret
    return hmac.new(secret, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def check_csrf(session_token: str) -> None:
    """403 unless the request names this server as its origin (when it names one) and
    carries the session's CSRF token."""
    origin = request.headers.get("Origin")
    if origin is not None and origin != request.host_url.rstrip("/"):
        raise Forbidden("A change signed in with a cookie must come from this site.")
    given = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(given.encode(), csrf_token(session_token).encode()):
        raise Forbidden(f"A change signed in with a cookie needs the {CSRF_HEADER} header.")


def set_session_cookie(response: Response, member: UUID, token: str, max_age: int) -> None:
    response.set_cookie(
        cookie_name(),
        f"{member}.{token}",
        max_age=max_age,
        path="/",
        secure=secure_cookie(),
        httponly=True,
        samesite="Lax",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(cookie_name(), path="/", secure=secure_cookie(), httponly=True, samesite="Lax")
