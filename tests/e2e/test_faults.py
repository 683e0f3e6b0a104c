"""Faults under load, against the real server: a gunicorn worker (and the projection
process) killed with SIGKILL in the middle of a booking burst, and PostgreSQL crashed and
started again in the middle of one.

Clients behave as the README tells them to: every logical booking has an
``Idempotency-Key``, and on a connection error, a timeout or a 503 the same request is
sent again with the same key. Afterwards: every 201 is in the event store and the read
tables with its quantity, each key made exactly one booking, nothing was sold twice,
sold == the sum of confirmed bookings == capacity - available everywhere, the audit
finds nothing, and the service answered again with no one stepping in.

PostgreSQL is a private cluster (``private_postgres.py``): the shared server is never
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
from pathlib import Path
from uuid import UUID

import pytest

from application import BookingLedger
from application.audit import TierAudit
from domain.bookings import CONFIRMED, Booking, idempotent_booking_id
from projections import Follower, open_view
from tests.processes import call, gunicorn, run_projection_process, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TIER = "GA"
CLIENTS = 24
ATTEMPT_TIMEOUT = 3.0  # seconds for one HTTP attempt
KEY_DEADLINE = 30.0  # seconds for one logical booking, all its retries included
RECOVERY_DEADLINE = 15.0  # seconds from the end of a fault until bookings succeed again
# Seconds PostgreSQL stays down. Requests wait for the store meanwhile (the library
# retries, the pool waits for a connection), so a short outage is ridden through unseen
# (2 s: no client saw an error); 5 s makes clients time out and retry, and requests
# queued behind the stalled batch get 503 LEDGER_BUSY after BOOKING_MAX_WAIT_MS.
OUTAGE = 5.0
TRANSIENT = (OSError, http.client.HTTPException)  # refused, reset, cut off, timed out


@dataclass
class Outcome:
    """One logical booking (one ``Idempotency-Key``) and what its attempts met."""

    user: str
    key: str
    quantity: int
    status: int | None = None  # the final answer: 201 or a definitive 4xx; None: gave up
    code: str | None = None
    booking_id: str | None = None
    failures: list[tuple[float, str]] = field(default_factory=list)  # (when, what) of each retried attempt
    sent_at: float = 0.0  # the last attempt's (monotonic)
    sent_wall: float = 0.0  # the same, as a Unix time, to compare with event timestamps
    answered_at: float = 0.0


def book_until_final(base: str, user: str, key: str, quantity: int) -> Outcome:
    """Send one booking until it gets 201 or a definitive 4xx: after a connection error,
    a timeout or a 503, the same request again with the same key, after a short back-off."""
    outcome = Outcome(user, key, quantity)
    body = {"userId": user, "tier": TIER, "quantity": quantity}
    deadline, pause = time.monotonic() + KEY_DEADLINE, 0.02
    while time.monotonic() < deadline:
        outcome.sent_at, outcome.sent_wall = time.monotonic(), time.time()
        try:
            reply = call(f"{base}/api/tickets/book", body, {"Idempotency-Key": key}, timeout=ATTEMPT_TIMEOUT)
        except TRANSIENT as error:
            outcome.failures.append((time.monotonic(), type(error).__name__))
        else:
            if reply.status != 503:
                outcome.status, outcome.answered_at = reply.status, time.monotonic()
                outcome.booking_id = reply.body.get("bookingId")
                outcome.code = reply.body.get("error", {}).get("code")
                return outcome
            retry_after = reply.headers.get("Retry-After")
            outcome.failures.append((time.monotonic(), f"503 {reply.body['error']['code']} Retry-After {retry_after}"))
        time.sleep(pause)
        pause = min(2 * pause, 0.5)
    return outcome


class Burst:
    """``CLIENTS`` threads, each booking under a new key of its own, one logical booking
    after another, until the ``with`` block ends (each finishes its current one)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(n,)) for n in range(CLIENTS)]

    def __enter__(self) -> Burst:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(KEY_DEADLINE + ATTEMPT_TIMEOUT)
        assert not any(t.is_alive() for t in self._threads), "a client is still sending: its outcome is missing"

    def _client(self, n: int) -> None:
        for i in itertools.count():
            if self._stop.is_set():
                return
            self.outcomes.append(book_until_final(self.base, f"user-{n}", f"key-{n}-{i}", 1 + i % 3))

    def wait_for_answers(self, count: int, sent_after: float = 0.0) -> None:
        """Until ``count`` logical bookings sent (last attempt) after ``sent_after`` got their final answer."""
        wait_for(lambda: sum(o.sent_at >= sent_after for o in list(self.outcomes)) >= count,
                 RECOVERY_DEADLINE, f"{count} answers")


class Service:
    """The production shape: gunicorn (2 gevent workers) and ``python -m projections``
    on one store, with one tier of ``capacity`` tickets."""

    def __init__(self, env: dict[str, str], folder: Path, capacity: int) -> None:
        self.env = env
        self.server_env = {**env, "GUNICORN_WORKERS": "2", "DEMO_TIERS": f"{TIER}:10.00:{capacity}",
                           "BOOKING_RATE_LIMIT": "", "PROJECT_IN_PROCESS": "no",
                           "POSTGRES_POOL_SIZE": "5", "POSTGRES_MAX_OVERFLOW": "10"}
        self.server_log = open(folder / "gunicorn.log", "w+")
        self.projector_log = open(folder / "projections.log", "w+")

    def __enter__(self) -> Service:
        self._serving = gunicorn(self.server_env, self.server_log)
        self.base, self.server = self._serving.__enter__()
        self.projector = run_projection_process(self.env, self.projector_log)
        return self

    def __exit__(self, *exc: object) -> None:
        self.projector.terminate()
        self.projector.wait(timeout=30)
        self._serving.__exit__(*exc)
        self.server_log.close()
        self.projector_log.close()

    def workers(self) -> list[int]:
        """The gunicorn master's children."""
        children = Path(f"/proc/{self.server.pid}/task/{self.server.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def busiest_worker(self) -> int:
        """The worker with the most open sockets (client connections and pooled database
        connections): killing it cuts off the most requests in flight."""
        def sockets(pid: int) -> int:
            return sum(os.readlink(fd).startswith("socket:") for fd in Path(f"/proc/{pid}/fd").iterdir())

        return max(self.workers(), key=sockets)

    def kill_projector_and_restart_it(self) -> None:
        """SIGKILL the projection process and start another, as its supervisor
        (docker compose's ``restart: unless-stopped``) would."""
        self.projector.kill()
        self.projector.wait(timeout=10)
        self.projector = run_projection_process(self.env, self.projector_log)

    def server_output(self) -> str:
        self.server_log.seek(0)
        return self.server_log.read()

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
def test_a_postgres_crash_mid_burst_loses_and_doubles_nothing(private_postgres, private_postgres_env, tmp_path,
                                                              capacity):
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


def check_after_the_fault(service: Service, outcomes: list[Outcome], capacity: int, fault_name: str,
                          fault: float, back: float) -> None:
    """Everything the fault must not have broken (the service is still running)."""
    service.wait_until_ready()
    assert any(o.failures for o in outcomes), "no client noticed the fault: it tested nothing"
    assert_no_500s_and_every_key_answered(outcomes, sold_out=capacity < 1_000_000)
    replayed = assert_the_books_balance(service.env, outcomes, capacity)
    assert "Traceback" not in service.server_output()
    report(fault_name, outcomes, fault, back, replayed)


def report(fault_name: str, outcomes: list[Outcome], fault: float, back: float, replayed: int) -> None:
    """What the clients saw (shown with ``pytest -s``)."""
    failures = [(at, what) for o in outcomes for at, what in o.failures]
    after_back = [o.answered_at - back for o in outcomes if o.sent_at >= back]
    print(f"\n{fault_name}: {len(outcomes)} logical bookings, final {dict(Counter(o.status for o in outcomes))}; "
          f"{len(failures)} failed attempts {dict(Counter(what for _, what in failures))}, the last "
          f"{max(at for at, _ in failures) - fault:.2f} s after the fault; first answer to a request sent after "
          f"the fault ended: {min(after_back):.2f} s after it; {replayed} keys recorded by an attempt whose "
          f"answer was lost, then answered by a retry")


def assert_no_500s_and_every_key_answered(outcomes: list[Outcome], sold_out: bool) -> None:
    """Every logical booking ended with 201 (or, once sold out, 422), never a 500 or a
    give-up; every 503 on the way was a documented one with ``Retry-After``."""
    finals = Counter((o.status, o.code) for o in outcomes)
    allowed = {(201, None), (422, "INSUFFICIENT_TICKETS")} if sold_out else {(201, None)}
    assert set(finals) <= allowed, finals
    if sold_out:
        assert finals[(422, "INSUFFICIENT_TICKETS")] > 0, "the tier never sold out"
    unavailable = {what for o in outcomes for _, what in o.failures if what.startswith("503")}
    assert unavailable <= {"503 STORE_UNAVAILABLE Retry-After 1", "503 LEDGER_BUSY Retry-After 1"}, unavailable


def assert_the_books_balance(env: dict[str, str], outcomes: list[Outcome], capacity: int) -> int:
    """The event store and the read tables (once the projection process has caught up)
    hold exactly the bookings that got 201, each once. Returns how many of them an
    earlier attempt recorded although its client saw only an error (the retry with
    the same key found the booking instead of making another)."""
    booked = {UUID(o.booking_id): o for o in outcomes if o.status == 201}
    assert all(b == idempotent_booking_id(o.user, o.key) for b, o in booked.items())
    sold = sum(o.quantity for o in booked.values())
    with BookingLedger(env=env) as ledger:
        view = open_view(ledger)
        wait_for(lambda: Follower(ledger, view).lag() == 0, what="the read tables to catch up")
        assert sorted(confirmed_booking_ids(ledger)) == sorted(booked), "a booking lost, doubled, or without a 201"
        summaries = {b: ledger.get_booking(b) for b in booked}
        assert {b: (s.user_id, s.tier, s.quantity, s.status) for b, s in summaries.items()} == {
            b: (o.user, TIER, o.quantity, CONFIRMED) for b, o in booked.items()}
        rows = {b.booking_id: (b.quantity, b.status) for b in view.bookings_of_tier(TIER)}
        assert rows == {b: (o.quantity, CONFIRMED) for b, o in booked.items()}
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
