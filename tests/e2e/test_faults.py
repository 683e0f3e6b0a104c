"""Faults under load, against the real server: a gunicorn worker (and the projection
process) killed with SIGKILL in the middle of a booking burst, and PostgreSQL crashed and
started again in the middle of one.

Clients behave as the README tells them to: every logical booking has an
``Idempotency-Key``, and on a connection error, a timeout or a 503 the same request is
sent again with the same key. Afterwards: every 201 is in the event store and the read
tables with its quantity, each key made exactly one booking, nothing was sold twice,
sold == the sum of confirmed bookings == capacity - available everywhere, the audit
finds nothing, and the service answered again with no one stepping in.

PostgreSQL is a private cluster (``scripts/harness/private_postgres.py``): the shared server is never
restarted.
"""

from __future__ import annotations

import http.client
import itertools
import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from application import BookingLedger
from application.audit.tier_audit import TierAudit
from domain.bookings import Booking, BookingStatus
from projections import Projector, open_view
from scripts.harness.clients import Clients
from scripts.harness.processes import (
    Reply,
    busiest,
    call,
    children,
    gunicorn,
    run_projection_process,
    wait_for,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TIER = "GA"
CLIENTS = 24
ATTEMPT_TIMEOUT = 3.0  # seconds for one HTTP attempt
KEY_DEADLINE = 30.0  # seconds for one logical booking, all its retries included
RECOVERY_DEADLINE = 15.0  # seconds from the end of a fault until bookings succeed again
# Seconds PostgreSQL stays down: each booking meanwhile gets 503 STORE_UNAVAILABLE
# within about 2 s (docs/configuration.md, "When PostgreSQL goes away") and is sent again.
OUTAGE = 5.0
LONG_OUTAGE = 8.0  # seconds PostgreSQL stays down in the test of how fast the service answers meanwhile
ANSWER_BOUND = 6.0  # seconds any request may take during an outage (generous for CI; measured: see README)
READY_BOUND = 3.0  # seconds /ready may take, what a load balancer polls (measured: 1.0 s during an outage)
BACK_BOUND = 5.0  # seconds from PostgreSQL's restart until bookings and /ready succeed again
TRANSIENT = (OSError, http.client.HTTPException)  # refused, reset, cut off, timed out


@dataclass
class Attempt:
    """One HTTP request and what came back: an answer, or the error it met instead."""

    path: str
    sent: float  # monotonic
    took: float = 0.0
    status: int | None = None  # None: no answer (see ``error``)
    code: str | None = None
    retry_after: str | None = None
    error: str | None = None

    @property
    def what(self) -> str:
        return self.error or f"{self.status} {self.code} Retry-After {self.retry_after}"


def attempt(
    base: str,
    path: str,
    body: dict | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = ATTEMPT_TIMEOUT,
) -> tuple[Attempt, Reply | None]:
    """Send one request; time it, and note its answer or the transport error it met."""
    sent = time.monotonic()
    try:
        reply = call(f"{base}{path}", body, headers, timeout=timeout)
    except TRANSIENT as error:
        return Attempt(path, sent, time.monotonic() - sent, error=type(error).__name__), None
    code = reply.body.get("error", {}).get("code") if isinstance(reply.body, dict) else None
    return Attempt(path, sent, time.monotonic() - sent, reply.status, code, reply.headers.get("Retry-After")), reply


@dataclass
class Outcome:
    """One logical booking (one ``Idempotency-Key``) and what its attempts met."""

    user: str
    key: str
    quantity: int
    status: int | None = None  # the final answer: 201 or a definitive 4xx; None: gave up
    code: str | None = None
    booking_id: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    sent_wall: float = 0.0  # when the last attempt was sent, as a Unix time, to compare with event timestamps

    @property
    def failures(self) -> list[Attempt]:
        """The attempts that were sent again: no answer, or a 503."""
        return [a for a in self.attempts if a.status in (None, 503)]

    @property
    def sent_at(self) -> float:
        return self.attempts[-1].sent

    @property
    def answered_at(self) -> float:
        return self.attempts[-1].sent + self.attempts[-1].took


def book_until_final(base: str, user: str, key: str, quantity: int, timeout: float = ATTEMPT_TIMEOUT) -> Outcome:
    """Send one booking until it gets 201 or a definitive 4xx: after a connection error,
    a timeout or a 503, the same request again with the same key, after a short back-off."""
    outcome = Outcome(user, key, quantity)
    body = {"userId": user, "tier": TIER, "quantity": quantity}
    deadline, pause = time.monotonic() + KEY_DEADLINE, 0.02
    while time.monotonic() < deadline:
        outcome.sent_wall = time.time()
        sent, reply = attempt(base, "/api/tickets/book", body, {"Idempotency-Key": key}, timeout)
        outcome.attempts.append(sent)
        if reply is not None and reply.status != 503:
            outcome.status, outcome.code = sent.status, sent.code
            outcome.booking_id = reply.body.get("bookingId")
            return outcome
        time.sleep(pause)
        pause = min(2 * pause, 0.5)
    return outcome


class Burst(Clients):
    """``CLIENTS`` threads, each booking under a new key of its own, one logical booking
    after another, until the ``with`` block ends (each finishes its current one)."""

    def __init__(self, base: str, timeout: float = ATTEMPT_TIMEOUT) -> None:
        self.base = base
        self.timeout = timeout  # for one attempt
        self.join_timeout = KEY_DEADLINE + timeout
        self.outcomes: list[Outcome] = []
        super().__init__([threading.Thread(target=self._client, args=(n,)) for n in range(CLIENTS)])

    def _client(self, n: int) -> None:
        for i in itertools.count():
            if self._stop.is_set():
                return
            self.outcomes.append(book_until_final(self.base, f"user-{n}", f"key-{n}-{i}", 1 + i % 3, self.timeout))

    def wait_for_answers(self, count: int, sent_after: float = 0.0) -> None:
        """Until ``count`` logical bookings sent (last attempt) after ``sent_after`` got their final answer."""
        wait_for(
            lambda: sum(o.sent_at >= sent_after for o in list(self.outcomes)) >= count,
            RECOVERY_DEADLINE,
            f"{count} answers",
        )


class Poller(Clients):
    """One thread per path, each sending GET again and again (0.1 s apart) until the
    ``with`` block ends, and keeping every attempt."""

    def __init__(self, base: str, paths: list[str], timeout: float) -> None:
        self.attempts: list[Attempt] = []
        super().__init__([threading.Thread(target=self._poll, args=(base, path, timeout)) for path in paths])

    def _poll(self, base: str, path: str, timeout: float) -> None:
        while not self._stop.wait(0.1):
            self.attempts.append(attempt(base, path, timeout=timeout)[0])


class Service:
    """The production shape: gunicorn (2 gevent workers) and ``python -m projections``
    on one store, with one tier of ``capacity`` tickets."""

    def __init__(self, env: dict[str, str], folder: Path, capacity: int) -> None:
        self.env = env
        self.server_env = {
            **env,
            "GUNICORN_WORKERS": "2",
            "DEMO_TIERS": f"{TIER}:10.00:{capacity}",
            "BOOKING_RATE_LIMIT": "",
            "PROJECT_IN_PROCESS": "no",
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_MAX_OVERFLOW": "10",
        }
        self.server_log = open(folder / "gunicorn.log", "w+")
        self.projector_log = open(folder / "projections.log", "w+")

    def __enter__(self) -> Service:
        self._serving = gunicorn(self.server_env, self.server_log)
        self.base, self.server = self._serving.__enter__()
        self.projector = run_projection_process(self.env, self.projector_log)
        wait_for(lambda: "projecting" in self.projector_output(), what="the projection process to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.projector.terminate()
        self.projector.wait(timeout=30)
        self._serving.__exit__(*exc)
        self.server_log.close()
        self.projector_log.close()

    def workers(self) -> list[int]:
        return children(self.server.pid)

    def busiest_worker(self) -> int:
        return busiest(self.workers())

    def kill_projector_and_restart_it(self) -> None:
        """SIGKILL the projection process and start another, as its supervisor
        (docker compose's ``restart: unless-stopped``) would."""
        self.projector.kill()
        self.projector.wait(timeout=10)
        self.projector = run_projection_process(self.env, self.projector_log)

    def server_output(self) -> str:
        self.server_log.seek(0)
        return self.server_log.read()

    def projector_output(self) -> str:
        self.projector_log.seek(0)
        return self.projector_log.read()

    def wait_until_ready(self) -> None:
        """``/ready`` answers 200 (the store answers, the read tables are close enough)."""
        wait_for(lambda: call(f"{self.base}/ready").status == 200, RECOVERY_DEADLINE, "/ready to answer 200")


def test_a_worker_and_the_projector_killed_mid_burst_lose_and_double_nothing(private_postgres_env, tmp_path):
    with Service(private_postgres_env, tmp_path, capacity=1_000_000) as service:
        with Burst(service.base) as burst:
            burst.wait_for_answers(150)
            victim = service.busiest_worker()
            fault = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            service.kill_projector_and_restart_it()
            burst.wait_for_answers(150, sent_after=fault)
        wait_for(lambda: len(service.workers()) == 2 and victim not in service.workers(), what="a new worker")
        check_after_the_fault(service, burst.outcomes, 1_000_000, "worker killed", fault, fault)


@pytest.mark.parametrize("capacity", [1_000_000, 600], ids=["on-sale", "sells-out"])
def test_a_postgres_crash_mid_burst_loses_and_doubles_nothing(
    private_postgres, private_postgres_env, tmp_path, capacity
):
    with Service(private_postgres_env, tmp_path, capacity) as service:
        with Burst(service.base) as burst:
            burst.wait_for_answers(150)
            fault = time.monotonic()
            private_postgres.crash()
            time.sleep(OUTAGE)
            private_postgres.start()
            back = time.monotonic()
            burst.wait_for_answers(150, sent_after=back)
        check_after_the_fault(service, burst.outcomes, capacity, "postgres crashed", fault, back)
        assert service.projector.poll() is None, "the projection process did not outlive the outage"


def test_during_a_long_postgres_outage_every_request_is_answered_at_once(
    private_postgres, private_postgres_env, tmp_path
):
    """Bookings, reads and ``/ready`` while PostgreSQL is down for longer than any retry
    rides out: each gets 503 with ``Retry-After`` within ``ANSWER_BOUND`` (clients wait
    twice that, so a slow answer is seen as slow, not as a timeout), ``/ready`` says 503
    throughout, and soon after the restart bookings and ``/ready`` succeed again."""
    with Service(private_postgres_env, tmp_path, capacity=1_000_000) as service:
        polled = ["/ready", "/api/tickets"]
        with (
            Burst(service.base, timeout=2 * ANSWER_BOUND) as burst,
            Poller(service.base, polled, timeout=2 * ANSWER_BOUND) as poller,
        ):
            burst.wait_for_answers(50)
            private_postgres.crash()
            fault = time.monotonic()
            time.sleep(LONG_OUTAGE)
            restart = time.monotonic()  # it accepts connections before start() returns
            private_postgres.start()
            back = time.monotonic()
            burst.wait_for_answers(50, sent_after=back)
            wait_for(
                lambda: any(a.path == "/ready" and a.status == 200 and a.sent >= back for a in list(poller.attempts)),
                BACK_BOUND,
                "/ready to answer 200",
            )
        check_after_the_fault(service, burst.outcomes, 1_000_000, "long postgres outage", fault, back)
    bookings = [a for o in burst.outcomes for a in o.attempts]
    kinds = {"bookings": bookings, **{path: [a for a in poller.attempts if a.path == path] for path in polled}}
    ready = kinds["/ready"]
    first_booked = min(o.answered_at for o in burst.outcomes if o.status == 201 and o.sent_at >= back) - back
    first_ready = min(a.sent + a.took for a in ready if a.status == 200 and a.sent >= back) - back
    for name, kind in kinds.items():
        took = sorted(a.took for a in kind if a.sent < back and a.sent + a.took > fault)
        print(f"{name} during the outage: {len(took)}, median {took[len(took) // 2]:.2f} s, slowest {took[-1]:.2f} s")
    print(f"after the restart: first 201 {first_booked:.2f} s, first /ready 200 {first_ready:.2f} s")

    allowed = {
        "201 None Retry-After None",
        "200 None Retry-After None",
        "503 STORE_UNAVAILABLE Retry-After 1",
        "503 LEDGER_BUSY Retry-After 1",
    }
    everything = bookings + poller.attempts
    assert {a.what for a in everything} <= allowed, Counter(a.what for a in everything)  # no 500, no timeout
    slowest = max(everything, key=lambda a: a.took)
    assert slowest.took <= ANSWER_BOUND, slowest
    within = [a for a in everything if fault <= a.sent and a.sent + a.took < restart]
    assert {a.what for a in within if a.path != "/ready"} <= {
        "503 STORE_UNAVAILABLE Retry-After 1",
        "503 LEDGER_BUSY Retry-After 1",
    }
    assert {a.what for a in within if a.path == "/ready"} == {"503 STORE_UNAVAILABLE Retry-After 1"}
    assert max(a.took for a in ready) <= READY_BOUND
    assert max(first_booked, first_ready) <= BACK_BOUND


def test_a_process_that_starts_during_an_outage_waits_for_postgres(private_postgres, private_postgres_env):
    """Statements fail fast while PostgreSQL is down, but building the ledger (a gunicorn
    worker booting, the projection process starting) waits for it: a worker that failed
    to boot would stop gunicorn altogether."""
    private_postgres.crash()
    built: list[BookingLedger] = []
    starting = threading.Thread(target=lambda: built.append(BookingLedger(env=private_postgres_env)))
    try:
        starting.start()
        starting.join(3.0)
        assert starting.is_alive() and not built, "the ledger did not wait for PostgreSQL"
    finally:
        private_postgres.start()
    starting.join(10)
    assert built, "the ledger did not start once PostgreSQL was back"
    with built[0] as ledger:
        assert ledger.create_tier("VIP", Decimal("1.00"), 1).available == 1


def check_after_the_fault(
    service: Service, outcomes: list[Outcome], capacity: int, fault_name: str, fault: float, back: float
) -> None:
    """Everything the fault must not have broken (the service is still running)."""
    service.wait_until_ready()
    assert any(o.failures for o in outcomes), "no client noticed the fault: it tested nothing"
    assert_no_500s_and_every_key_answered(outcomes, sold_out=capacity < 1_000_000)
    replayed = assert_the_books_balance(service.env, outcomes, capacity)
    assert "Traceback" not in service.server_output()
    report(fault_name, outcomes, fault, back, replayed)


def report(fault_name: str, outcomes: list[Outcome], fault: float, back: float, replayed: int) -> None:
    """What the clients saw (shown with ``pytest -s``)."""
    failures = [(a.sent + a.took, a.what) for o in outcomes for a in o.failures]
    after_back = [o.answered_at - back for o in outcomes if o.sent_at >= back]
    print(
        f"\n{fault_name}: {len(outcomes)} logical bookings, final {dict(Counter(o.status for o in outcomes))}; "
        f"{len(failures)} failed attempts {dict(Counter(what for _, what in failures))}, the last "
        f"{max(at for at, _ in failures) - fault:.2f} s after the fault; first answer to a request sent after "
        f"the fault ended: {min(after_back):.2f} s after it; {replayed} keys recorded by an attempt whose "
        f"answer was lost, then answered by a retry"
    )


def assert_no_500s_and_every_key_answered(outcomes: list[Outcome], sold_out: bool) -> None:
    """Every logical booking ended with 201 (or, once sold out, 422), never a 500 or a
    give-up; every 503 on the way was a documented one with ``Retry-After``."""
    finals = Counter((o.status, o.code) for o in outcomes)
    allowed = {(201, None), (422, "INSUFFICIENT_TICKETS")} if sold_out else {(201, None)}
    assert set(finals) <= allowed, finals
    if sold_out:
        assert finals[(422, "INSUFFICIENT_TICKETS")] > 0, "the tier never sold out"
    unavailable = {a.what for o in outcomes for a in o.failures if a.status == 503}
    assert unavailable <= {"503 STORE_UNAVAILABLE Retry-After 1", "503 LEDGER_BUSY Retry-After 1"}, unavailable


def assert_the_books_balance(env: dict[str, str], outcomes: list[Outcome], capacity: int) -> int:
    """The event store and the read tables (once the projection process has caught up)
    hold exactly the bookings that got 201, each once. Returns how many of them an
    earlier attempt recorded although its client saw only an error (the retry with
    the same key found the booking instead of making another)."""
    booked = {UUID(o.booking_id): o for o in outcomes if o.status == 201}
    sold = sum(o.quantity for o in booked.values())
    with BookingLedger(env=env) as ledger:
        assert all(b == ledger.idempotent_id(o.user, o.key) for b, o in booked.items())
        view = open_view(ledger)
        wait_for(lambda: Projector(ledger, view).lag() == 0, what="the read tables to catch up")
        assert sorted(confirmed_booking_ids(ledger)) == sorted(booked), "a booking lost, doubled, or without a 201"
        summaries = {b: ledger.get_booking(b) for b in booked}
        assert {b: (s.user_id, s.tier, s.quantity, s.status) for b, s in summaries.items()} == {
            b: (o.user, TIER, o.quantity, BookingStatus.CONFIRMED) for b, o in booked.items()
        }
        rows = {b.booking_id: (b.quantity, b.status) for b in view.bookings_of_tier(TIER)}
        assert rows == {b: (o.quantity, BookingStatus.CONFIRMED) for b, o in booked.items()}
        tier, row = ledger.get_tier(TIER), view.get_tier(TIER)
        assert (tier.sold, tier.available) == (row.sold, row.available) == (sold, capacity - sold)
        lines, problems = TierAudit(ledger).verify(TIER, view)
        assert problems == []
        assert sum(line.event == "TicketsBooked" for line in lines) == len(booked)
    return sum(summaries[b].created_at.timestamp() < o.sent_wall for b, o in booked.items())


def confirmed_booking_ids(ledger: BookingLedger) -> list[UUID]:
    """Every booking the event store holds, once per ``Booking.Confirmed`` event."""
    topic = f"{Booking.Confirmed.__module__}:{Booking.Confirmed.__qualname__}"
    ids, start = [], 1
    while page := ledger.recorder.select_notifications(start, 1000, topics=[topic]):
        ids += [n.originator_id for n in page]
        start = page[-1].id + 1
    return ids
