"""The bearer tokens of the service's own roles: the admin's (``ADMIN_TOKEN``), and those of
the feed's readers and the door's scanners (``FEED_TOKEN``, ``SCANNER_TOKEN``), each
endpoint taking the ones its blueprint names. With no admin token configured and no staff
credentials presented the admin endpoints do not exist (404). A wrong or missing token gets 401 and no hint; tokens are
compared in constant time."""

from __future__ import annotations

import hmac

from flask import current_app, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized


def presents(tokens: list[str]) -> bool:
    """Whether the request's bearer token is one of ``tokens`` (each compared, always, in
    constant time, so the answer's time says nothing of which came close)."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    matches = [hmac.compare_digest(given.encode(), token.encode()) for token in tokens]
    return scheme.lower() == "bearer" and any(matches)


def bearer_secret() -> str:
    """The request's bearer token ("" without one)."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else ""


def require_bearer(tokens: list[str]) -> None:
    """401 unless the request's bearer token is one of ``tokens``."""
    if not presents(tokens):
        raise Unauthorized("Authentication required.", www_authenticate=WWWAuthenticate("bearer"))


def has_admin_token() -> bool:
    token = current_app.config["ADMIN_TOKEN"]
    return bool(token) and presents([token])


def require_admin_token() -> None:
    """Every admin blueprint's ``before_request``: the operator's token, or a member, API
    key or device whose role allows the endpoint (``web/identity/roles.py``). A CORS
    preflight (``OPTIONS``) never carries credentials: it is answered without them (by
    Flask, with the CORS headers of ``web/http/protection.py``)."""
    from web.identity.roles import require_role  # roles reads the staff, who read this module

    require_role()
