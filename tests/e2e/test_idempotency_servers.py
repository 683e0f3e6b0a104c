"""Two real servers on one PostgreSQL store derive the same idempotent booking ids without
being told a secret (the store keeps it), so a key sent to both books once; a server
configured with another secret refuses to start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from application import BookingLedger
from scripts.harness.processes import ROOT, call, free_port, gunicorn

KEYS = [f"order-{n}" for n in range(12)]


def confirmed_bookings(env: dict[str, str]) -> int:
    with BookingLedger(env=env) as ledger:
        return sum(1 for n in ledger.recorder.select_notifications(1, 10_000) if n.topic.endswith("Booking.Confirmed"))


@pytest.mark.postgres
@pytest.mark.slow
def test_one_key_sent_to_two_servers_on_one_store_books_once(postgres_env, tmp_path):
    env = {**postgres_env, "PROJECT_IN_PROCESS": "yes", "DEMO_TIERS": "GA:10.00:1000", "BOOKING_RATE_LIMIT": ""}
    with (
        open(tmp_path / "one.log", "w") as one_log,
        open(tmp_path / "two.log", "w") as two_log,
        gunicorn(env, one_log) as (one, _),
        gunicorn(env, two_log) as (two, _),
    ):

        def book(base: str, key: str):
            return call(
                f"{base}/api/tickets/book",
                {"userId": "ann", "tier": "GA", "quantity": 2},
                headers={"Idempotency-Key": key},
            )

        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda job: book(*job), [(base, key) for key in KEYS for base in (one, two)]))
        assert [r.status for r in replies] == [201] * 2 * len(KEYS)
        ids = [r.body["bookingId"] for r in replies]
        assert ids[0::2] == ids[1::2] and len(set(ids)) == len(KEYS)
        predictable = {str(uuid.uuid5(uuid.NAMESPACE_URL, "booking:" + json.dumps(["ann", key]))) for key in KEYS}
        assert not predictable & set(ids)
        assert {b["bookingId"] for b in call(f"{one}/api/users/ann/bookings").body} == set(ids)
        assert call(f"{two}/api/tickets").body[0]["availableQuantity"] == 1000 - 2 * len(KEYS)
    assert confirmed_bookings(postgres_env) == len(KEYS)

    other = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env, "IDEMPOTENCY_SECRET": "x" * 32, "BIND": f"127.0.0.1:{free_port()}"},
        timeout=60,
    )
    assert other.returncode != 0
    assert "IdempotencySecretError" in other.stdout + other.stderr
