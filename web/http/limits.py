"""Per-client rate limits (Flask-Limiter): bookings, holds and orders (``BOOKING_RATE_LIMIT``), and
failed admin sign-ins (``ADMIN_AUTH_RATE_LIMIT``: only 401s count, on every endpoint behind the
admin token together, and a request with the right token is never refused, so guessing is
slowed and the admin is not). Over a limit:
429 with ``Retry-After``. A client is its address (behind a proxy: ``web/http/proxies.py``).

The counts live in ``RATE_LIMIT_STORAGE_URI``. ``memory://`` is per process: with more
than one process serving (``WEB_CONCURRENCY``, which the gunicorn settings set to the
number of workers) each would let the whole limit through, so the app refuses to start
on it then (a limit that lets N times through unnoticed is worse than a clear error at
start): use a shared store (Redis), one worker, or no limits.

While that store does not answer (a Redis failover), requests are let through uncounted, the
error logged, rather than refused: a booking does not depend on Redis for its limit, and a
client may get more than its limit through for the seconds the failover lasts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Flask, Response
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from web.identity.tokens import has_admin_token

# Through Sentinel (``redis+sentinel://...``, docs/configuration.md), how long a count waits for
# a server or a Sentinel before the request goes on uncounted instead of hanging on a lost host.
SENTINEL_TIMEOUTS = {"socket_timeout": 2.0, "socket_connect_timeout": 2.0}


def install(app: Flask, sales: Iterable[Blueprint], admin: Iterable[Blueprint]) -> None:
    """Limit the POSTs of the ``sales`` blueprints, and the failed sign-ins on the ``admin`` ones
    in one count (else each would let a guesser have the whole limit again). One limiter per
    app, so test apps never share counts. An empty limit setting turns that limit off (the
    benchmark turns off the booking one)."""
    booking = app.config["BOOKING_RATE_LIMIT"]
    admin_auth = app.config["ADMIN_AUTH_RATE_LIMIT"] if app.config["ADMIN_TOKEN"] else ""
    if not (booking or admin_auth):
        return
    require_shared_counts(app.config)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["RATE_LIMIT_STORAGE_URI"])
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", app.config["RATE_LIMIT_KEY_PREFIX"])
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)  # the store not answering: let through, logged
    if app.config["RATE_LIMIT_STORAGE_URI"].startswith("redis+sentinel://"):  # a lost host answers nothing
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", SENTINEL_TIMEOUTS)
    limiter = Limiter(get_remote_address, app=app)
    if booking:
        for blueprint in sales:
            limiter.limit(booking, methods=["POST"])(blueprint)
    if admin_auth:
        sign_in = limiter.shared_limit(
            admin_auth, scope="admin-sign-in", deduct_when=refused_sign_in, exempt_when=has_admin_token
        )
        for blueprint in admin:
            sign_in(blueprint)


def refused_sign_in(response: Response) -> bool:
    return response.status_code == 401


def require_shared_counts(config: dict[str, Any]) -> None:
    processes = int(config["WEB_CONCURRENCY"])
    if processes > 1 and config["RATE_LIMIT_STORAGE_URI"].startswith("memory://"):
        raise RuntimeError(
            f"{processes} processes serve the app, but RATE_LIMIT_STORAGE_URI is memory://, so each would "
            "count on its own and let the limit through that many times. Set RATE_LIMIT_STORAGE_URI to a "
            "shared store (redis://... or redis+sentinel://...), or serve with one worker, or turn the limits off "
            "(BOOKING_RATE_LIMIT= and ADMIN_AUTH_RATE_LIMIT=)."
        )
