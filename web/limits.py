"""Per-client rate limits on the booking and hold endpoints (Flask-Limiter), counted in a storage
every gunicorn worker shares: Redis in server mode (``RATE_LIMIT_STORAGE_URI``), memory
for the single-process SQLite default. Over the limit: 429 with ``Retry-After``."""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from web import holds, tickets


def install(app: Flask) -> None:
    """One limiter per app, so test apps never share counts. An empty
    ``BOOKING_RATE_LIMIT`` turns the limit off (the benchmark does)."""
    rate = app.config["BOOKING_RATE_LIMIT"]
    if not rate:
        return
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["RATE_LIMIT_STORAGE_URI"])
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "ticket-ledger")
    limiter = Limiter(get_remote_address, app=app)
    for blueprint in (tickets.blp, holds.blp):
        limiter.limit(rate, methods=["POST"])(blueprint)
