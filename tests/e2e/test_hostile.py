"""Hostile clients against the real server, on both stores, run as the README runs it
(SQLite: ``ticketledger serve``'s settings; PostgreSQL: the same settings, 2 workers, and
``python -m projections``): while an attack goes on, an ordinary client keeps booking,
and every booking must succeed with p95 under 1 s.

The attacks, each for ``ATTACK_SECONDS`` once its connections are open: connections that
send a request's headers a byte at a time, or its body a byte at a time, or open the live
tier stream and keep it open, each replaced as soon as the server closes it (an attacker
would reconnect); and JSON that crashed Python's parser, as fast as two clients can
send it. Sizes: large enough to have stopped the old servers (SQLite: one gthread worker
of 32 threads; PostgreSQL: 2 gevent workers of 1,000 connections, no body deadline).

The server's own answers to requests it cannot parse are JSON, and a chunked body over
the limit is refused, here too.
"""

from __future__ import annotations

import http.client
import json
import resource
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from application import BookingLedger
from scripts.harness.processes import call, gunicorn, run_projection_process

pytestmark = pytest.mark.slow

ATTACK_SECONDS = 12.0  # how long bookings are timed during an attack
P95_BOUND = 1.0  # seconds
# How long the ordinary client waits for one booking's answer. The claim is the p95 and that
# none fails; on a starved 2-core CI host the slowest booking, queued behind a burst of
# reconnecting attackers, has taken 5-9 s, which is slow but not lost.
BOOKING_TIMEOUT = 20.0
SIZES = {  # connections per attack, by store
    "sqlite": {"slow headers": 64, "slow bodies": 64, "event streams": 64},
    "postgres": {"slow headers": 2100, "slow bodies": 2100, "event streams": 256},
}
CANCEL = "/api/bookings/6b0f7c57-4d6e-4c1f-9a51-5f1a2b3c4d5e/cancel"  # no rate limit, as any command
OPENINGS = {  # what each attacking connection sends first; then one byte ("a") every TRICKLE_SECONDS
    "slow headers": b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ",
    "slow bodies": (
        f"POST {CANCEL} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n"
    ).encode(),
    "event streams": b"GET /api/tickets/stream HTTP/1.1\r\nHost: x\r\n\r\n",
}
TRICKLE_SECONDS = 5.0  # as the attack in the issue: one byte every 5 s
CHECK_SECONDS = 1.0  # how often the attacker looks for connections the server closed, to replace them
CRASHING_JSON = [
    b'{"userId": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"userId": "u1", "tier": "GA", "quantity": ' + b"9" * 5000 + b"}",
]


@pytest.fixture(scope="module", autouse=True)
def many_open_files() -> Iterator[None]:
    """Thousands of attacking sockets need more than the usual 1,024 descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextmanager
def served(store_env: dict[str, str], folder: Path) -> Iterator[str]:
    """The service as the README runs it on this store (no rate limits: an attacker has
    many addresses); yields its base URL."""
    postgres = store_env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    env = {**store_env, "DEMO_TIERS": "GA:10.00:1000000", "BOOKING_RATE_LIMIT": ""}
    with open(folder / "gunicorn.log", "w+") as log, gunicorn(env, log) as (base, _):
        projector = run_projection_process(env, open(folder / "projections.log", "w")) if postgres else None
        try:
            yield base
        finally:
            if projector:
                projector.terminate()
                projector.wait(timeout=30)
        log.seek(0)
        output = log.read()
    assert "Traceback" not in output, output[-5000:]


class Attackers:
    """``size`` connections that send ``opening`` and then a byte every ``TRICKLE_SECONDS``,
    each replaced by a new one within ``CHECK_SECONDS`` of the server closing it."""

    def __init__(self, base: str, opening: bytes, size: int) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.address, self.opening, self.size = (host, int(port)), opening, size
        self.sockets: list[socket.socket] = []
        self.replaced = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep_up)

    def __enter__(self) -> Attackers:
        deadline = time.monotonic() + 30
        while len(self.sockets) < self.size and time.monotonic() < deadline:
            self.sockets.append(self._open())
        self._wait_until_taken()
        self._thread.start()
        return self

    def _wait_until_taken(self) -> None:
        """Return once the server has taken every attacking connection, not just the kernel:
        it accepts connections in the order they came, so a request sent after them is
        answered after it took them. Until then the attack is still being opened."""
        host, port = self.address
        connection = http.client.HTTPConnection(host, port, timeout=60)
        try:
            connection.request("GET", "/health")
            connection.getresponse().read()
        finally:
            connection.close()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        for sock in self.sockets:
            sock.close()

    def _open(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=5)
        sock.sendall(self.opening)
        sock.setblocking(False)
        return sock

    def _keep_up(self) -> None:
        rounds = 0
        while not self._stop.wait(CHECK_SECONDS):
            rounds += 1
            trickle = rounds % round(TRICKLE_SECONDS / CHECK_SECONDS) == 0
            for index, sock in enumerate(self.sockets):
                if self._stop.is_set():
                    return
                if not self._alive(sock, trickle):
                    sock.close()
                    self.replaced += 1
                    try:
                        self.sockets[index] = self._open()
                    except OSError:
                        pass  # the server is full: the old socket stays closed, tried again next round

    @staticmethod
    def _alive(sock: socket.socket, trickle: bool) -> bool:
        """Still open at the server's end; sends the next byte if it is time to."""
        try:
            if sock.recv(65536) == b"":
                return False
        except BlockingIOError:
            pass
        except OSError:
            return False
        try:
            if trickle:
                sock.send(b"a")
            return True
        except OSError:
            return False


def timed_bookings(base: str, seconds: float) -> tuple[list[float], Counter]:
    """Book one ticket at a time for ``seconds`` (a new connection each), as a client
    under attack would; return the latencies and the outcomes."""
    latencies: list[float] = []
    outcomes: Counter = Counter()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        try:
            outcomes[
                call(
                    f"{base}/api/tickets/book",
                    {"userId": "ordinary", "tier": "GA", "quantity": 1},
                    timeout=BOOKING_TIMEOUT,
                ).status
            ] += 1
        except OSError as error:
            outcomes[type(error).__name__] += 1
        latencies.append(time.monotonic() - started)
        time.sleep(0.05)
    return latencies, outcomes


def assert_bookings_unhurt(latencies: list[float], outcomes: Counter, attack: str) -> None:
    p95 = sorted(latencies)[int(len(latencies) * 0.95) - 1]
    print(
        f"\n{attack}: {len(latencies)} bookings, {dict(outcomes)}, p50 {sorted(latencies)[len(latencies) // 2]:.3f} s,"
        f" p95 {p95:.3f} s, max {max(latencies):.3f} s"
    )
    assert set(outcomes) == {201} and len(latencies) >= 10, (attack, outcomes)
    assert p95 < P95_BOUND, (attack, p95)


@pytest.mark.parametrize("attack", list(OPENINGS))
def test_bookings_go_on_during_a_connection_attack(store_env, tmp_path, request, attack):
    store = request.node.callspec.params["store_env"]
    with served(store_env, tmp_path) as base:
        with Attackers(base, OPENINGS[attack], SIZES[store][attack]) as attackers:
            latencies, outcomes = timed_bookings(base, ATTACK_SECONDS)
            held = len(attackers.sockets)
        print(f"{attack}: {held} attacking connections, {attackers.replaced} closed by the server and replaced")
        assert held == SIZES[store][attack]
        assert_bookings_unhurt(latencies, outcomes, attack)


def test_bookings_go_on_while_json_that_crashed_the_parser_pours_in(store_env, tmp_path):
    with served(store_env, tmp_path) as base:
        answers: Counter = Counter()
        stop = threading.Event()

        def pour() -> None:
            while not stop.is_set():
                for body in CRASHING_JSON:
                    status, code = post_raw(base, "/api/tickets/book", body)
                    answers[(status, code)] += 1

        pourers = [threading.Thread(target=pour) for _ in range(2)]
        for thread in pourers:
            thread.start()
        try:
            latencies, outcomes = timed_bookings(base, ATTACK_SECONDS)
        finally:
            stop.set()
            for thread in pourers:
                thread.join(timeout=30)
        print(f"crashing JSON: {sum(answers.values())} sent, {dict(answers)}")
        assert set(answers) == {(400, "INVALID_JSON")} and sum(answers.values()) >= 20
        assert_bookings_unhurt(latencies, outcomes, "crashing JSON")


def post_raw(base: str, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """POST ``body`` as it is; the answer's status and error code."""
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=10)
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json", **(headers or {})},
            encode_chunked="Transfer-Encoding" in (headers or {}),
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())["error"]["code"]
    finally:
        connection.close()


def test_a_chunked_body_over_the_limit_is_413_from_the_real_server(store_env, tmp_path):
    body = json.dumps({"userId": "u1", "tier": "GA", "quantity": 1}).encode() + b" " * 20000 + b"garbage"
    with served(store_env, tmp_path) as base:
        refused = post_raw(
            base, "/api/tickets/book", iter([body[:8000], body[8000:]]), headers={"Transfer-Encoding": "chunked"}
        )
        assert refused == (413, "REQUEST_ENTITY_TOO_LARGE")
    with BookingLedger(env=store_env) as ledger:
        assert ledger.get_tier("GA").sold == 0


UNPARSABLE = [  # a request gunicorn refuses itself, and its answer
    (b"GET /health HTTP/1.1 extra\r\n\r\n", 400, "BAD_REQUEST"),
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "URI_TOO_LONG"),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431, "REQUEST_HEADER_FIELDS_TOO_LARGE"),
]


def test_requests_the_server_cannot_parse_get_the_json_error_body(store_env, tmp_path):
    with served(store_env, tmp_path) as base:
        answers = [send_raw(base, request_bytes) for request_bytes, _, _ in UNPARSABLE]
    for (status, content_type, body), (_, expected_status, code) in zip(answers, UNPARSABLE, strict=True):
        assert (status, content_type) == (expected_status, "application/json")
        assert set(body["error"]) == {"code", "message", "details"} and body["error"]["code"] == code


def send_raw(base: str, request_bytes: bytes) -> tuple[int, str, Any]:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request_bytes)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.headers["Content-Type"], json.loads(response.read())
