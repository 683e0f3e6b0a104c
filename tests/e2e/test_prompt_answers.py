"""Through a real gunicorn server: while PostgreSQL holds every commit, each booking is
answered within the write timeout with 503 and ``Retry-After`` (``OUTCOME_UNKNOWN`` where
its recording was sent, ``STORE_UNAVAILABLE`` where not), never left hanging; once the
stall ends, each client's retry with its key gets 201 and one booking
(``application/persistence/deadline.py``)."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from application import BookingLedger
from scripts.harness.processes import call
from tests.processes import clean_gunicorn
from tests.stalls import commits_stalled

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WRITE_TIMEOUT = 0.5  # seconds
ANSWER_BOUND = 1.5  # seconds an answer may take through the server (the write timeout, HTTP, a busy machine)
STALL = 3.0  # seconds a stalled commit is held
CLIENTS = 16


def book(base: str, user: str, code: str) -> tuple[int | None, str | None, str | None, float]:
    """One attempt: status, error code, Retry-After, seconds taken (status None: no answer in 10 s)."""
    started = time.monotonic()
    try:
        reply = call(
            f"{base}/api/tickets/book",
            {"userId": user, "tier": code, "quantity": 1},
            headers={"Idempotency-Key": f"key-{user}"},
            timeout=10,
        )
    except OSError:
        return None, None, None, time.monotonic() - started
    code_ = reply.body.get("error", {}).get("code") if reply.status >= 400 else reply.body["bookingId"]
    return reply.status, code_, reply.headers.get("Retry-After"), time.monotonic() - started


def test_bookings_during_a_stalled_commit_are_answered_503_in_time_and_their_keys_book_once(postgres_env, tmp_path):
    code = f"T{uuid.uuid4().hex[:12].upper()}"  # turns are the whole database's: a tier of this test's own
    env = {
        **postgres_env,
        "POSTGRES_WRITE_TIMEOUT_MS": str(round(WRITE_TIMEOUT * 1000)),
        "DEMO_TIERS": f"{code}:10.00:1000",
        "BOOKING_RATE_LIMIT": "",
        "PROJECT_IN_PROCESS": "no",
    }
    users = [f"user{n}" for n in range(CLIENTS)]
    with clean_gunicorn(env, tmp_path) as base, BookingLedger(env=postgres_env) as ledger:
        with commits_stalled(postgres_env, STALL), ThreadPoolExecutor(CLIENTS) as pool:
            during = list(pool.map(lambda user: book(base, user, code), users))
        assert all(status == 503 for status, *_ in during), during
        assert {code_ for _, code_, _, _ in during} <= {"OUTCOME_UNKNOWN", "STORE_UNAVAILABLE"}, during
        assert "OUTCOME_UNKNOWN" in {code_ for _, code_, _, _ in during}
        assert all(retry_after == "1" for _, _, retry_after, _ in during)
        assert max(took for *_, took in during) < ANSWER_BOUND, during
        time.sleep(STALL)  # the stalled commit ends (and commits)
        after = {user: book(base, user, code) for user in users}
        for user, (status, booking_id, _, _) in after.items():
            assert status == 201, after
            assert booking_id == str(ledger.idempotent_id(user, f"key-{user}"))
            assert ledger.get_booking(uuid.UUID(booking_id)).quantity == 1  # acknowledged and recorded
        assert ledger.get_tier(code).sold == CLIENTS  # one booking per key
