"""Webhook endpoints: registered by admins, each with its own position in the outbox.

An endpoint is a URL (http or https only), the notice types it wants (or all), and a
secret that signs every delivery. It starts at the head of the outbox (new notices only,
as Stripe's do); ``replay`` moves it back. Its status is ``active``, ``paused`` (by an
admin) or ``failing`` (a notice kept failing for ``WEBHOOK_RETRY_SECONDS``; delivery
stopped there with nothing skipped, and ``resume`` carries on from that notice).

Signatures follow Stripe's scheme: the header
``Ticketledger-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``
signs the exact body and the time of the attempt, so a receiver can refuse a replayed
request whose ``t`` is old (``verify`` allows five minutes by default).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

from projections.errors import InvalidWebhookError, WebhookNotFoundError
from projections.integrations.notices import TYPES
from projections.integrations.store import IntegrationTables, Statements, utc_now
from projections.sql import when

ACTIVE, PAUSED, FAILING = "active", "paused", "failing"
ALL_TYPES = "*"
SIGNATURE_HEADER = "Ticketledger-Signature"
DEFAULT_TOLERANCE = 300

INSERT_ENDPOINT = (
    "INSERT INTO {p}webhook_endpoints (endpoint_id, url, secret, event_types, description, status, position, "
    "created_at) VALUES (:endpoint_id, :url, :secret, :event_types, :description, 'active', :position, :created_at)"
)
ENDPOINT_COLUMNS = "endpoint_id, url, secret, event_types, description, status, status_reason, position, created_at"
SELECT_ENDPOINTS = f"SELECT {ENDPOINT_COLUMNS} FROM {{p}}webhook_endpoints ORDER BY created_at, endpoint_id"
SELECT_ENDPOINT = f"SELECT {ENDPOINT_COLUMNS} FROM {{p}}webhook_endpoints WHERE endpoint_id = :endpoint_id"
SET_STATUS = (
    "UPDATE {p}webhook_endpoints SET status = :status, status_reason = :reason "
    "WHERE endpoint_id = :endpoint_id RETURNING endpoint_id"
)
SET_FAILING = (
    "UPDATE {p}webhook_endpoints SET status = 'failing', status_reason = :reason "
    "WHERE endpoint_id = :endpoint_id AND status = 'active' AND position = :position"
)
REPLAY = (
    "UPDATE {p}webhook_endpoints SET position = :position, status = 'active', status_reason = NULL "
    "WHERE endpoint_id = :endpoint_id RETURNING endpoint_id"
)
LEASE = (
    "UPDATE {p}webhook_endpoints SET leased_by = :owner, lease_until = :until "
    "WHERE endpoint_id = :endpoint_id AND status = 'active' "
    "AND (leased_by IS NULL OR leased_by = :owner OR lease_until < :now) RETURNING position"
)
RELEASE = "UPDATE {p}webhook_endpoints SET leased_by = NULL WHERE endpoint_id = :endpoint_id AND leased_by = :owner"
MOVE = (
    "UPDATE {p}webhook_endpoints SET position = :new, lease_until = :until "
    "WHERE endpoint_id = :endpoint_id AND position = :old AND status = 'active' AND leased_by = :owner "
    "RETURNING endpoint_id"
)
INSERT_DELIVERY = (
    "INSERT INTO {p}webhook_deliveries (endpoint_id, position, event_id, attempt, at, delivered, status_code, "
    "error, latency_ms) VALUES (:endpoint_id, :position, :event_id, :attempt, :at, :delivered, :status_code, "
    ":error, :latency_ms)"
)
SELECT_DELIVERIES = (
    "SELECT position, event_id, attempt, at, delivered, status_code, error, latency_ms "
    "FROM {p}webhook_deliveries WHERE endpoint_id = :endpoint_id ORDER BY delivery_id DESC LIMIT :limit"
)


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: str
    url: str
    secret: str
    event_types: tuple[str, ...] | None  # None: every type
    description: str
    status: str
    status_reason: str | None
    position: int
    created_at: datetime


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt, as the log keeps it."""

    position: int
    event_id: str
    attempt: int
    at: datetime
    delivered: bool
    status_code: int | None
    error: str | None
    latency_ms: float


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def check_url(url: str) -> str:
    """Refuse anything but an absolute http(s) URL with a host (no file:, no ftp:, ...)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise InvalidWebhookError(f"Not a URL: {url!r}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidWebhookError("A webhook URL must be http:// or https:// with a host.")
    return url


def sign(secret: str, body: str, at: int) -> str:
    """The signature header's value for ``body`` sent at unix time ``at``."""
    digest = hmac.new(secret.encode(), f"{at}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def verify(secret: str, body: str, header: str, tolerance: float = DEFAULT_TOLERANCE, now: float | None = None) -> bool:
    """Whether ``header`` signs ``body`` with ``secret``, at most ``tolerance`` seconds ago."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        at = int(fields["t"])
    except (KeyError, ValueError):
        return False
    fresh = abs((time.time() if now is None else now) - at) <= tolerance
    return fresh and hmac.compare_digest(sign(secret, body, at), f"t={at},v1={fields.get('v1', '')}")


class WebhookEndpoints:
    """The endpoint registry and delivery log, for admins (API, CLI) and the delivery workers."""

    def __init__(self, tables: IntegrationTables) -> None:
        self.tables = tables

    def add(
        self, url: str, event_types: list[str] | None = None, secret: str | None = None, description: str = ""
    ) -> Endpoint:
        unknown = set(event_types or ()) - set(TYPES)
        if unknown:
            raise InvalidWebhookError(f"Unknown event type(s): {', '.join(sorted(unknown))}.")
        endpoint_id = f"we_{uuid4().hex}"
        types = ALL_TYPES if not event_types else " ".join(dict.fromkeys(event_types))
        with self.tables.transaction() as tx:
            tx.execute(
                INSERT_ENDPOINT,
                endpoint_id=endpoint_id,
                url=check_url(url),
                secret=secret or new_secret(),
                event_types=types,
                description=description,
                position=self.tables.head(),
                created_at=utc_now(),
            )
        return self.get(endpoint_id)

    def list(self) -> list[Endpoint]:
        return [endpoint(row) for row in self.tables.rows(SELECT_ENDPOINTS)]

    def get(self, endpoint_id: str) -> Endpoint:
        rows = self.tables.rows(SELECT_ENDPOINT, endpoint_id=endpoint_id)
        if not rows:
            raise WebhookNotFoundError(f"No webhook endpoint {endpoint_id!r}.")
        return endpoint(rows[0])

    def pause(self, endpoint_id: str) -> Endpoint:
        return self._change(endpoint_id, SET_STATUS, status=PAUSED, reason="paused by an admin")

    def resume(self, endpoint_id: str) -> Endpoint:
        """Deliver again, from where delivery stopped (a failing endpoint too)."""
        return self._change(endpoint_id, SET_STATUS, status=ACTIVE, reason=None)

    def replay(self, endpoint_id: str, after: int) -> Endpoint:
        """Deliver again every notice after position ``after`` (and resume)."""
        return self._change(endpoint_id, REPLAY, position=after)

    def _change(self, endpoint_id: str, statement: str, **params: Any) -> Endpoint:
        with self.tables.transaction() as tx:
            found = tx.rows(statement, endpoint_id=endpoint_id, **params)
        if not found:
            raise WebhookNotFoundError(f"No webhook endpoint {endpoint_id!r}.")
        return self.get(endpoint_id)

    def deliveries(self, endpoint_id: str, limit: int = 100) -> list[Attempt]:
        """The endpoint's latest delivery attempts, newest first."""
        self.get(endpoint_id)
        rows = self.tables.rows(SELECT_DELIVERIES, endpoint_id=endpoint_id, limit=limit)
        return [Attempt(**{**row, "at": when(row["at"]), "delivered": bool(row["delivered"])}) for row in rows]

    # For the delivery workers.

    def log(self, tx: Statements, endpoint_id: str, attempt: Attempt) -> None:
        tx.execute(
            INSERT_DELIVERY,
            endpoint_id=endpoint_id,
            position=attempt.position,
            event_id=attempt.event_id,
            attempt=attempt.attempt,
            at=attempt.at,
            delivered=int(attempt.delivered),
            status_code=attempt.status_code,
            error=attempt.error,
            latency_ms=attempt.latency_ms,
        )

    def lease(self, endpoint_id: str, owner: str, seconds: float) -> int | None:
        """Make ``owner`` the endpoint's only deliverer for ``seconds`` (or renew it);
        return its position, or None if it is not active or another owner's lease runs."""
        now = utc_now()
        with self.tables.transaction() as tx:
            found = tx.rows(
                LEASE, endpoint_id=endpoint_id, owner=owner, now=now, until=now + timedelta(seconds=seconds)
            )
        return found[0]["position"] if found else None

    def release(self, endpoint_id: str, owner: str) -> None:
        with self.tables.transaction() as tx:
            tx.execute(RELEASE, endpoint_id=endpoint_id, owner=owner)

    def record(self, endpoint_id: str, attempts: list[Attempt], old: int, owner: str, seconds: float) -> bool:
        """Log attempts; if the last one delivered, move the endpoint's position from
        ``old`` to its notice's and renew ``owner``'s lease, in the same transaction. False
        if the position was no longer ``old``, the endpoint not active (an admin replayed
        or paused it meanwhile), or the lease lost; the attempts are logged all the same."""
        until = utc_now() + timedelta(seconds=seconds)
        with self.tables.transaction() as tx:
            for attempt in attempts:
                self.log(tx, endpoint_id, attempt)
            return attempts[-1].delivered and bool(
                tx.rows(MOVE, endpoint_id=endpoint_id, old=old, new=attempts[-1].position, owner=owner, until=until)
            )

    def mark_failing(self, endpoint_id: str, position: int, reason: str) -> None:
        """Stop delivering to an active endpoint still at ``position``."""
        with self.tables.transaction() as tx:
            tx.execute(SET_FAILING, endpoint_id=endpoint_id, position=position, reason=reason)


def endpoint(row: dict[str, Any]) -> Endpoint:
    types = row["event_types"]
    return Endpoint(
        **{
            **row,
            "event_types": None if types == ALL_TYPES else tuple(types.split()),
            "created_at": when(row["created_at"]),
        }
    )
