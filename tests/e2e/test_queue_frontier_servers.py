"""The room's frontier from outside, through gunicorn, on both queue stores (in the
process for the SQLite default, Redis with PostgreSQL): one answer for every buyer,
cacheable (``Cache-Control: public, max-age=1``, ``ETag``, ``304``), and enough for a
buyer to know their turn. Each buyer here costs the origin two requests besides the
frontier: the join, and the one look that collects the pass, which finds it ready."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import pytest

from scripts.harness.processes import call, gunicorn
from tests.queue_stores import REDIS_URL, redis_client, redis_prefix

pytestmark = [pytest.mark.slow]
TOKEN = "frontier-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BUYERS, RATE = 12, 4.0


def frontier(base: str, etag: str | None = None) -> tuple[int, dict | None, dict[str, str]]:
    request = urllib.request.Request(f"{base}/api/queue/frontier", headers={"If-None-Match": etag} if etag else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, None, dict(error.headers)


@pytest.fixture(params=["memory", "redis"])
def server_env(request: pytest.FixtureRequest, tmp_path: Path):
    base = {
        "ADMIN_TOKEN": TOKEN,
        "BOOKING_RATE_LIMIT": "",
        "ADMIN_AUTH_RATE_LIMIT": "",
        "DEMO_TIERS": "VIP:100.00:500",
    }
    if request.param == "memory":
        yield {**base, "PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "l.sqlite3")}
        return
    postgres_env = request.getfixturevalue("postgres_env")
    redis_client()
    with redis_prefix() as prefix:
        yield {
            **base,
            **postgres_env,
            "PROJECT_IN_PROCESS": "yes",
            "QUEUE_STORAGE_URI": REDIS_URL,
            "QUEUE_REDIS_PREFIX": prefix,
        }


def test_buyers_who_follow_only_the_frontier_find_their_pass_ready_at_their_one_look(server_env, tmp_path: Path):
    with ExitStack() as stack:
        log = stack.enter_context(open(tmp_path / "server.log", "w+"))
        base, _ = stack.enter_context(gunicorn(server_env, log))

        status, body, headers = frontier(base)
        assert (status, body["active"], body["admitted"]) == (200, False, None)
        assert headers["Cache-Control"] == "public, max-age=1" and headers["ETag"]
        assert frontier(base, headers["ETag"])[0] == 304

        opened = time.monotonic()
        assert call(f"{base}/api/admin/waiting-room", {"tiers": ["VIP"], "rate": RATE}, AUTH).status == 201
        tickets = [call(f"{base}/api/queue", {"userId": f"b{n}"}).body for n in range(BUYERS)]
        assert [t["number"] for t in tickets] == list(range(1, BUYERS + 1))

        started, seen, waiting = opened, [], list(tickets)
        while waiting and time.monotonic() - started < 20:
            status, body, headers = frontier(base)
            assert status == 200 and body["active"] and body["joined"] == BUYERS and not body["soldOut"]
            seen.append((time.monotonic() - started, body["admitted"]))
            while waiting and waiting[0]["number"] <= body["admitted"]:
                ticket = waiting.pop(0)
                admitted = call(f"{base}/api/queue/{ticket['ticketId']}").body
                assert admitted["state"] == "admitted", admitted
                booked = call(
                    f"{base}/api/tickets/book",
                    {"userId": ticket["userId"], "tier": "VIP", "quantity": 1},
                    {"Queue-Pass": admitted["queuePass"]},
                )
                assert booked.status == 201, booked.body
            time.sleep(0.25)
        assert not waiting, f"still waiting after 20 s; frontier seen: {seen}"
        admitted_counts = [count for _, count in seen]
        assert admitted_counts == sorted(admitted_counts)  # it never goes back
        assert all(count <= RATE * at + 2 for at, count in seen)  # never ahead of the rate
