"""The service's own settings, read from the environment (docs/configuration.md lists them).

The store itself is configured with the ``eventsourcing`` library's variables
(``PERSISTENCE_MODULE``, ``SQLITE_DBNAME``, ``POSTGRES_*``), read by the application.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

DEFAULTS: dict[str, Any] = {
    "DEMO_TIERS": "VIP:100.00:100,FRONT_ROW:50.00:200,GA:10.00:1000",
    # The name of the default event (``main``): the demo's tiers and any not of another event.
    "DEFAULT_EVENT_NAME": "The concert",
    "MAX_TICKETS_PER_BOOKING": 10,
    # "auto": project in the web process on SQLite (which has no subscription to
    # follow), leave it to ``python -m projections`` on PostgreSQL.
    "PROJECT_IN_PROCESS": "auto",
    # "auto": expire holds in a thread of the web process wherever it projects too;
    # otherwise ``python -m projections`` does it.
    "EXPIRE_HOLDS_IN_PROCESS": "auto",
    # host:port of a PostgreSQL standby (HAProxy's read port) to read the tier list from
    # while the primary does not answer; empty: none (projections/read_model/replica.py).
    "READ_REPLICA": "",
    # Largest request body accepted (Flask answers 413 beyond it).
    "MAX_CONTENT_LENGTH": 16 * 1024,
    # Seconds a request body may take to arrive after its headers (408 beyond).
    "REQUEST_BODY_TIMEOUT": 5.0,
    # Origins allowed to call the API from a browser, comma-separated; empty for none.
    "CORS_ORIGINS": "",
    # The account a paid booking's buyer transfers to (docs/payments.md); empty: not shown.
    "BANK_ACCOUNT_HOLDER": "",
    "BANK_ACCOUNT_IBAN": "",
    # Card payments through Stripe (docs/payments.md): the secret API key, the webhook
    # endpoint's signing secret, and the API's address (empty: Stripe's own); no key: off.
    "STRIPE_SECRET_KEY": "",
    "STRIPE_WEBHOOK_SECRET": "",
    "STRIPE_API_BASE": "",
    # Bearer token for /api/admin; empty: the admin endpoints are off.
    "ADMIN_TOKEN": "",
    # Failed admin sign-ins per client address (Flask-Limiter syntax); empty: no limit.
    "ADMIN_AUTH_RATE_LIMIT": "10 per minute",
    # Bookings per client address (Flask-Limiter syntax); empty: no limit.
    "BOOKING_RATE_LIMIT": "20 per second",
    # Where the counts live: "memory://" (one process) or e.g. "redis://127.0.0.1:6379/0".
    "RATE_LIMIT_STORAGE_URI": "memory://",
    # Prefix of the counts' keys, so services can share one Redis.
    "RATE_LIMIT_KEY_PREFIX": "ticket-ledger",
    # Processes serving the app (set by the gunicorn settings to its workers; set it when
    # several servers share one address space of clients): more than 1 needs shared counts.
    "WEB_CONCURRENCY": 1,
    # Proxies whose X-Forwarded-For is believed (addresses or networks, comma-separated).
    "TRUSTED_PROXIES": "",
    # /ready answers 503 when the read tables lag the store by more than this.
    "READY_MAX_LAG_SECONDS": 30.0,
    # Longest one /api/tickets/stream response lasts before the browser reconnects.
    "SSE_MAX_SECONDS": 30.0,
    # Bearer token of the door's scanners for /api/checkin besides the admin token; with
    # neither set, the door is open (the demo).
    "SCANNER_TOKEN": "",
    # Bearer token for /api/feed besides the admin token (read-only, for integrators); empty: none.
    "FEED_TOKEN": "",
    # Longest a /api/feed long-poll (?wait=) is held open, in whole seconds.
    "FEED_MAX_WAIT_SECONDS": 25,
    # "auto": run the outbox, webhook delivery and emails in a thread of the web process
    # wherever it projects too; otherwise ``python -m projections`` does.
    "INTEGRATIONS_IN_PROCESS": "auto",
    # Extra settings for the ledger, on top of the OS environment (tests use this).
    "LEDGER_ENV": {},
    # The waiting room (web/waiting_rooms.py; docs/on-sale.md). Its queue:
    # "memory://" (one server process) or e.g. "redis://127.0.0.1:6379/0" (shared).
    "QUEUE_STORAGE_URI": "memory://",
    # Prefix of the queue's Redis keys: one per deployment (and per test run).
    "QUEUE_REDIS_PREFIX": "ticket-ledger:queue",
    # How long an admitted buyer's pass lasts, unless the admin says otherwise.
    "QUEUE_PASS_SECONDS": 300,
    # The automatic rate keeps admitted buyers' server-side booking p95 under this.
    "QUEUE_TARGET_P95_MS": 50.0,
    # How long a process uses the room's terms it last read (a booking then costs no look-up).
    "QUEUE_TERMS_SECONDS": 1.0,
    # How long after that read it may still use them while Redis does not answer (a failover):
    # bookings and holds of every tier go on meanwhile, passes checked as ever; after it, 503.
    "QUEUE_TERMS_KEEP_SECONDS": 30.0,
}
# Staff accounts (web/identity/staff.py; docs/security.md): how long a browser session lasts,
# whether its cookie is Secure ("auto": when the request came over HTTPS), failed sign-ins
# allowed per client address and per account (Flask-Limiter syntax; empty: no limit), and the
# address of the dashboard a password reset's email links to (empty: the request's own).
STAFF_SETTINGS: dict[str, Any] = {
    "STAFF_SESSION_HOURS": 12.0,
    "STAFF_COOKIE_SECURE": "auto",
    "STAFF_SIGN_IN_LIMIT_PER_ADDRESS": "10 per minute",
    "STAFF_SIGN_IN_LIMIT_PER_ACCOUNT": "20 per 10 minutes",
    "STAFF_BASE_URL": "",
}
DEFAULTS.update(STAFF_SETTINGS)
# Token mode (web/identity/users.py): the user is the subject of a bearer token from this issuer;
# empty issuer: the open default. Then the audience, and the issuer's PEM public key or
# its JWKS URL, are required.
USER_TOKEN_SETTINGS: dict[str, str] = {
    "USER_TOKEN_ISSUER": "",
    "USER_TOKEN_AUDIENCE": "",
    "USER_TOKEN_ALGORITHMS": "RS256,ES256",
    "USER_TOKEN_KEY": "",
    "USER_TOKEN_JWKS_URL": "",
}
DEFAULTS.update(USER_TOKEN_SETTINGS)


class DemoTier(NamedTuple):
    code: str
    price: Decimal
    capacity: int


def from_environment(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The settings in ``DEFAULTS`` overridden by the environment."""
    config = dict(DEFAULTS)
    for key in (
        "DEMO_TIERS",
        "DEFAULT_EVENT_NAME",
        "PROJECT_IN_PROCESS",
        "EXPIRE_HOLDS_IN_PROCESS",
        "READ_REPLICA",
        "CORS_ORIGINS",
        "ADMIN_TOKEN",
        "BOOKING_RATE_LIMIT",
        "ADMIN_AUTH_RATE_LIMIT",
        "RATE_LIMIT_STORAGE_URI",
        "RATE_LIMIT_KEY_PREFIX",
        "TRUSTED_PROXIES",
        "FEED_TOKEN",
        "SCANNER_TOKEN",
        "INTEGRATIONS_IN_PROCESS",
        "BANK_ACCOUNT_HOLDER",
        "BANK_ACCOUNT_IBAN",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "STRIPE_API_BASE",
    ):
        config[key] = environ.get(key, config[key])
    for key in ("MAX_TICKETS_PER_BOOKING", "MAX_CONTENT_LENGTH", "WEB_CONCURRENCY", "FEED_MAX_WAIT_SECONDS"):
        if key in environ:
            config[key] = int(environ[key])
    for key in ("READY_MAX_LAG_SECONDS", "SSE_MAX_SECONDS", "REQUEST_BODY_TIMEOUT"):
        if key in environ:
            config[key] = float(environ[key])
    for key in USER_TOKEN_SETTINGS:
        config[key] = environ.get(key, config[key])
    for key, default in STAFF_SETTINGS.items():
        if key in environ:
            config[key] = type(default)(environ[key])
    for key, default in DEFAULTS.items():  # the waiting room's, each of its default's type
        if key.startswith("QUEUE_") and key in environ:
            config[key] = type(default)(environ[key])
    return config


def parse_demo_tiers(text: str) -> list[DemoTier]:
    """Parse ``CODE:PRICE:CAPACITY,...``; an empty string means no demo tiers."""
    tiers = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            code, price, capacity = item.split(":")
            tiers.append(DemoTier(code, Decimal(price), int(capacity)))
        except (ValueError, InvalidOperation):
            raise ValueError(f"DEMO_TIERS item {item!r} is not CODE:PRICE:CAPACITY") from None
    return tiers
