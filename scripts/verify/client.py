"""Sending requests as a careful client does, and recording every attempt.

A logical request (one booking, one confirm, ...) is sent until it gets a definitive
answer: after a timeout, a connection error or a 5xx it is sent again, to the next
server (a load balancer's retry reaching another host), with the same body and the same
``Idempotency-Key`` if it has one, after a short jittered back-off, within a bounded
number of attempts and seconds. Each attempt goes into the history, answered or not.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from scripts.verify.history import Attempt, HistoryLog

IDLE_REUSE = 1.0  # seconds a kept-alive connection may idle and still be used (gunicorn closes it after 2)
PATHS = {
    "book": "/api/tickets/book",
    "hold": "/api/tickets/hold",
    "confirm": "/api/holds/{}/confirm",
    "release": "/api/holds/{}/release",
    "cancel": "/api/bookings/{}/cancel",
    # paying (scripts/verify/paying.py)
    "payment": "/api/bookings/{}/payment",
    "card-intent": "/api/bookings/{}/payment/card",
    "webhook": "/api/payments/stripe/webhook",
    "box-office": "/api/admin/payments/{}/box-office",
    "statement": "/api/admin/payments/statements",
    "refund-sent": "/api/admin/payments/{}/refunds",
}
LANES = 2  # a client sends from two threads at most: the same keyed request to two servers at once


@dataclass(frozen=True)
class Request:
    """A logical request: what to send."""

    name: str  # names it in the history; its attempts share it
    op: str
    body: dict[str, Any]
    key: str | None = None
    booking_id: str | None = None  # confirm, release and cancel: the booking they act on
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)  # besides Idempotency-Key
    pays_for: tuple[str, ...] = ()  # a payment: the bookings it may confirm (kept in the history's args)

    @property
    def path(self) -> str:
        return PATHS[self.op].format(self.booking_id)

    @property
    def args(self) -> dict[str, Any]:
        args = {**self.body, "bookingId": self.booking_id} if self.booking_id else dict(self.body)
        return {**args, "paysFor": list(self.pays_for)} if self.pays_for else args


class Connections:
    """One kept-alive HTTP connection per server, for one thread. A connection that
    failed, or idled long enough for the server to close it, is opened afresh."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._open: dict[str, tuple[http.client.HTTPConnection, float]] = {}

    def post(
        self, server: str, path: str, body: dict[str, Any], headers: dict[str, str], method: str = "POST"
    ) -> tuple[int, Any]:
        """The answer's status and body (JSON, or the text if it is not JSON); raises
        ``OSError`` or ``http.client.HTTPException`` when no answer came."""
        connection = self._connection(server)
        try:
            data = json.dumps(body) if method == "POST" else None
            connection.request(method, path, data, {"Content-Type": "application/json", **headers})
            response = connection.getresponse()
            raw = response.read()
        except BaseException:
            self.close(server)
            raise
        if response.will_close:
            self.close(server)
        else:
            self._open[server] = (connection, time.monotonic())
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode(errors="replace")

    def _connection(self, server: str) -> http.client.HTTPConnection:
        connection, used = self._open.get(server, (None, 0.0))
        if connection is not None and time.monotonic() - used < IDLE_REUSE:
            return connection
        self.close(server)
        address = urlsplit(server)
        return http.client.HTTPConnection(address.hostname, address.port, timeout=self.timeout)

    def close(self, server: str | None = None) -> None:
        for name in [server] if server else list(self._open):
            connection, _ = self._open.pop(name, (None, 0.0))
            if connection is not None:
                connection.close()


class Sender:
    """Sends logical requests for one client, records each attempt, retries as above."""

    def __init__(
        self,
        client: int,
        servers: list[str],
        log: HistoryLog,
        timeout: float,
        max_attempts: int,
        deadline: float,
        rng: random.Random,
        stop: threading.Event,
    ) -> None:
        self.client = client
        self.stop = stop  # set when the run is cut short: no more retries
        self.servers = servers
        self.log = log
        self.max_attempts = max_attempts
        self.deadline = deadline  # seconds one logical request may take, all attempts included
        self.rng = rng
        self.lanes = [Connections(timeout) for _ in range(LANES)]  # one per thread sending

    def until_definitive(self, request: Request, first_server: int, lane: int = 0) -> Attempt:
        """Send until a definitive answer (or the attempts or seconds run out), over the
        connections of ``lane``; return the last attempt."""
        give_up, pause = time.monotonic() + self.deadline, 0.05
        for n in range(self.max_attempts):
            attempt = self.once(request, self.servers[(first_server + n) % len(self.servers)], self.lanes[lane])
            if not attempt.indeterminate or time.monotonic() + pause > give_up:
                return attempt
            if self.stop.wait(pause * self.rng.uniform(0.5, 1.5)):
                return attempt
            pause = min(2 * pause, 1.0)
        return attempt

    def once(self, request: Request, server: str, connections: Connections) -> Attempt:
        headers = {**request.headers, **({"Idempotency-Key": request.key} if request.key else {})}
        attempt_id, sent = self.log.next_id(), time.time()
        try:
            status, body = connections.post(server, request.path, request.body, headers, request.method)
            error = None
        except (OSError, http.client.HTTPException) as failure:
            status, body, error = None, None, f"{type(failure).__name__}: {failure}"[:200]
        attempt = Attempt(
            attempt_id,
            self.client,
            request.name,
            server,
            request.op,
            request.args,
            request.key,
            sent,
            time.time(),
            status,
            body,
            error,
        )
        self.log.add_attempt(attempt)
        return attempt

    def close(self) -> None:
        for connections in self.lanes:
            connections.close()
