"""Deliver the outbox to webhook endpoints: at least once, in order, per endpoint.

Each active endpoint has a worker thread of its own, so a slow or dead endpoint delays
nobody else; a request never waits longer than ``WEBHOOK_TIMEOUT`` seconds per socket
operation. A worker posts its endpoint's notices one at a time, in position order, and
the endpoint's position moves past a notice only when a 2xx answer came back, in the
same transaction as the delivery log's rows, by compare-and-set (an admin's replay or
pause meanwhile wins). Deliveries in quick succession are committed together, at
least every ``commit_interval`` (50 ms) and before any failed attempt is logged: a
commit per notice costs more than the POST itself (docs/performance.md). So a notice
is delivered again only if its answer did not arrive, or the worker died within 50 ms
of delivering it: receivers de-duplicate by the notice's ``id``.

One process delivers to an endpoint at a time: a worker holds a lease on it
(``WEBHOOK_LEASE_SECONDS``, renewed with every position it moves and every retry), so
a second projection process waits rather than posting the same notices beside it; if
the holder dies, its lease lapses and another worker (or the restarted process) carries
on from the position.

A failed attempt (no answer, a timeout, or any status but 2xx, redirects included: they
are not followed, since a signed delivery must not be forwarded where the admin did not
register it) is logged, and tried again after an exponential back-off with full jitter
(a random wait from 0 to ``WEBHOOK_BACKOFF_BASE`` × 2^attempt, at most
``WEBHOOK_BACKOFF_CAP``), for ``WEBHOOK_RETRY_SECONDS``. Then the endpoint is marked
``failing``: delivery stops at that notice, nothing is skipped, and an admin's
``resume`` carries on from it.

Outbound requests use ``requests``, one session per endpoint worker, so consecutive
deliveries reuse the connection (a TLS handshake per notice would cost more than the
notice); no proxy or credentials from the environment, no redirects, a timeout always,
and at most 64 KiB of an answer read.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from uuid import uuid4

import requests
from eventsourcing.persistence import InterfaceError, OperationalError

from projections.integrations.outbox import wait_for_news
from projections.integrations.store import StoredNotice, utc_now
from projections.integrations.webhooks import (
    ACTIVE,
    SIGNATURE_HEADER,
    Attempt,
    Endpoint,
    WebhookEndpoints,
    WebhookNotFoundError,
    sign,
)

log = logging.getLogger(__name__)
USER_AGENT = "ticketledger-webhooks/1"


@dataclass(frozen=True)
class DeliverySettings:
    timeout: float = 5.0  # seconds per socket operation of one attempt
    retry_seconds: float = 86_400.0  # how long a notice is retried before the endpoint is failing
    backoff_base: float = 1.0
    backoff_cap: float = 600.0
    poll_interval: float = 0.05  # seconds between reads of the outbox when it has nothing new
    lease_seconds: float = 30.0  # how long a dead worker keeps others from its endpoint
    commit_interval: float = 0.05  # longest a delivery waits to be committed (a crash resends these)
    page: int = 100

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DeliverySettings:
        names = {
            "timeout": "WEBHOOK_TIMEOUT",
            "retry_seconds": "WEBHOOK_RETRY_SECONDS",
            "backoff_base": "WEBHOOK_BACKOFF_BASE",
            "backoff_cap": "WEBHOOK_BACKOFF_CAP",
            "lease_seconds": "WEBHOOK_LEASE_SECONDS",
            "poll_interval": "PROJECTION_POLL_INTERVAL",
        }
        return cls(**{field: float(env[name]) for field, name in names.items() if env.get(name)})

    def backoff(self, attempt: int) -> float:
        """Full jitter: a random wait up to the capped exponential step."""
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))


def session() -> requests.Session:
    """A connection-reusing session that takes nothing from the environment."""
    made = requests.Session()
    made.trust_env = False  # no proxy, netrc or CA bundle from environment variables
    return made


def post(
    http: requests.Session, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int | None, str | None]:
    """POST once; return the status (None if none came) and what went wrong (None on 2xx).
    A 3xx is not followed: it is a failed attempt."""
    try:
        with http.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
        ) as response:
            response.raw.read(65536)  # a little of the answer; the rest (if any) closes the connection
            status = response.status_code
    except (requests.RequestException, ValueError) as error:  # refused, reset, timeout, bad URL or port
        return None, f"{type(error).__name__}: {error}"
    return status, None if 200 <= status < 300 else f"HTTP {status} {response.reason}"


class EndpointWorker:
    """Delivers one endpoint's notices, in order, until it is paused, failing or stopped."""

    def __init__(
        self,
        endpoints: WebhookEndpoints,
        endpoint_id: str,
        settings: DeliverySettings,
        stop: threading.Event,
        news: threading.Condition | None = None,
        owner: str | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.endpoint_id = endpoint_id
        self.settings = settings
        self.stop = stop
        self.news = news
        self.http = session()
        self.owner = owner or uuid4().hex  # whose lease: this process's

    def run(self) -> None:
        with self.http:
            self._run()
        with suppress(OperationalError, InterfaceError):
            self.endpoints.release(self.endpoint_id, self.owner)  # a restart need not wait for it

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                if not self.deliver_page():
                    return
            except (OperationalError, InterfaceError) as error:
                log.warning("webhook %s: store unavailable, trying again: %s", self.endpoint_id, error)
                self.stop.wait(1.0)
            except Exception:
                log.exception("webhook %s: delivery failed; trying again", self.endpoint_id)
                self.stop.wait(1.0)

    def deliver_page(self) -> bool:
        """Deliver the next page of the endpoint's notices; False once it is not active."""
        try:
            endpoint = self.endpoints.get(self.endpoint_id)
        except WebhookNotFoundError:
            return False
        if endpoint.status != ACTIVE:
            return False
        notices = self.endpoints.tables.notices_after(endpoint.position, self.settings.page, endpoint.event_types)
        if not notices:
            wait_for_news(self.news, self.stop, self.settings.poll_interval)
            return True
        position = self.endpoints.lease(self.endpoint_id, self.owner, self.settings.lease_seconds)
        if position is None:  # another process delivers to it now (or it was just paused)
            self.stop.wait(min(1.0, self.settings.lease_seconds / 3))
            return True
        if position != endpoint.position:
            return True  # it moved meanwhile: read from where it is now
        progress = Progress(self, position)
        for notice in notices:
            if not self.deliver(endpoint, notice, progress):
                break  # stopped, paused, replayed or failing: read the endpoint again
        progress.commit()
        return True

    def deliver(self, endpoint: Endpoint, notice: StoredNotice, progress: Progress) -> bool:
        """Post ``notice`` until it is delivered (True), or delivery should stop here (False)."""
        failing_since = None
        for n in itertools.count(1):
            attempt = self.attempt(endpoint, notice, n)
            if attempt.delivered:
                return progress.delivered(attempt)
            if not progress.commit():  # the deliveries before it first, then the failure
                return False
            self.endpoints.record(
                endpoint.endpoint_id, [attempt], progress.position, self.owner, self.settings.lease_seconds
            )
            failing_since = failing_since or time.monotonic()
            if time.monotonic() - failing_since >= self.settings.retry_seconds:
                reason = f"event {notice.position} undelivered for {self.settings.retry_seconds:g} s: {attempt.error}"
                self.endpoints.mark_failing(endpoint.endpoint_id, progress.position, reason)
                log.warning("webhook %s is failing: %s", endpoint.endpoint_id, reason)
                return False
            if self.stop.wait(self.settings.backoff(n)) or not self._still_at(progress.position):
                return False
        raise AssertionError("unreachable")

    def _still_at(self, position: int) -> bool:
        """Renew the lease; whether the endpoint is still active and at ``position``."""
        return self.endpoints.lease(self.endpoint_id, self.owner, self.settings.lease_seconds) == position

    def attempt(self, endpoint: Endpoint, notice: StoredNotice, n: int) -> Attempt:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Ticketledger-Event-Id": notice.id,
            "Ticketledger-Event-Type": notice.type,
            "Ticketledger-Delivery-Attempt": str(n),
            SIGNATURE_HEADER: sign(endpoint.secret, notice.body, int(time.time())),
        }
        at, started = utc_now(), time.perf_counter()
        status, error = post(self.http, endpoint.url, notice.body.encode(), headers, self.settings.timeout)
        latency_ms = (time.perf_counter() - started) * 1000
        return Attempt(notice.position, notice.id, n, at, error is None, status, error, round(latency_ms, 3))


class Progress:
    """A worker's deliveries not committed yet, and the position they were made from."""

    def __init__(self, worker: EndpointWorker, position: int) -> None:
        self.worker = worker
        self.position = position  # as committed
        self.pending: list[Attempt] = []
        self.since = time.monotonic()

    def delivered(self, attempt: Attempt) -> bool:
        """Note a delivery; commit if the oldest pending one has waited long enough."""
        self.pending.append(attempt)
        return time.monotonic() - self.since < self.worker.settings.commit_interval or self.commit()

    def commit(self) -> bool:
        """Log the pending deliveries and move the position past them; False if the
        endpoint is no longer this worker's at that position (nothing moved then)."""
        if not self.pending:
            return True
        worker = self.worker
        moved = worker.endpoints.record(
            worker.endpoint_id, self.pending, self.position, worker.owner, worker.settings.lease_seconds
        )
        self.position, self.pending, self.since = self.pending[-1].position, [], time.monotonic()
        return moved


class WebhookDelivery:
    """Keeps one worker thread running per active endpoint (checked every ``refresh`` s)."""

    def __init__(
        self,
        endpoints: WebhookEndpoints,
        settings: DeliverySettings,
        news: threading.Condition | None = None,
        refresh: float = 1.0,
    ) -> None:
        self.endpoints = endpoints
        self.settings = settings
        self.news = news
        self.refresh = refresh
        self.workers: dict[str, threading.Thread] = {}
        self.owner = uuid4().hex  # the leases of this process's workers

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.start_workers(stop)
            except (OperationalError, InterfaceError) as error:
                log.warning("webhooks: store unavailable, trying again: %s", error)
            stop.wait(self.refresh)
        for worker in self.workers.values():
            worker.join(timeout=self.settings.timeout + 1)

    def start_workers(self, stop: threading.Event) -> None:
        for endpoint in self.endpoints.list():
            worker = self.workers.get(endpoint.endpoint_id)
            if endpoint.status == ACTIVE and (worker is None or not worker.is_alive()):
                worker = threading.Thread(
                    target=EndpointWorker(
                        self.endpoints, endpoint.endpoint_id, self.settings, stop, self.news, self.owner
                    ).run,
                    name=f"webhook-{endpoint.endpoint_id}",
                    daemon=True,
                )
                self.workers[endpoint.endpoint_id] = worker
                worker.start()
