"""The door page benchmark's core (``scripts/bench/door_page.py``) on a tiny scale, so that it
keeps working: a real server on PostgreSQL, a paired phone in headless Chromium, a few scans
on the quiet server and a few under a small load. Each scan gets the answer it must (admitted,
already in, not valid); how long it took is the benchmark's business, not this test's."""

from __future__ import annotations

import secrets

import pytest

from scripts.bench import door_page
from scripts.bench.kit import connect

pytestmark = pytest.mark.slow


def test_the_door_page_bench_scans_quiet_and_loaded_and_gets_every_answer_right() -> None:
    schema = f"bench_door_test_{secrets.token_hex(4)}"
    try:
        result = door_page.bench(tickets=6, rate=5, seconds=6, followers=4, schema=schema)
    finally:
        with connect() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    for half in ("quiet", "loaded"):
        assert result[half]["wrong"] == []
        assert result[half]["scans"] == 3 + 3 + door_page.FORGED_PER_HALF  # each code, each again, the forged
        assert set(result[half]["ms"]) == {"p50", "p95", "p99", "max"}
    loaded = result["loaded"]
    assert loaded["bookings"]["statuses"].get("201", 0) > 0
    assert loaded["followers"]["opened"] == 4
    assert "| loaded | 11 |" in door_page.table(result)
