"""Bookings while the waiting room's Redis fails over, seen from outside, on both stores: a
server reaches the queue and the rate limits through three Sentinels, a room is on for VIP,
and the Redis primary is SIGKILLed. While the Sentinels promote the replica the queue's own
steps answer 503, but every booking goes on from the room's terms the server last read
(``QUEUE_TERMS_KEEP_SECONDS``): a tier outside the room books as ever, an admitted buyer books
VIP with their signed pass, and a pass is still needed and still checked (none, or another
user's, is 403). Redis gone for longer than the bound, the room is not known any more: 503."""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest

from scripts.harness.processes import Reply, call, gunicorn
from tests.redis_sentinel import redis_sentinel  # noqa: F401

pytestmark = pytest.mark.slow
TOKEN = "redis-lost-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
KEEP = 8.0  # QUEUE_TERMS_KEEP_SECONDS
FAILOVER_WITHIN = 15.0  # the Sentinels promote the replica about 2 s after the kill


def answer(reply: Reply) -> str:
    return f"{reply.status} {reply.body['error']['code']}" if reply.status >= 400 else str(reply.status)


def test_bookings_go_on_through_a_redis_failover_and_a_pass_is_still_checked(redis_sentinel, store_env, tmp_path):
    group, processes = redis_sentinel
    env = {
        **store_env,
        "QUEUE_STORAGE_URI": group.url,
        "QUEUE_REDIS_PREFIX": f"redis-lost-{uuid.uuid4().hex[:8]}",
        "RATE_LIMIT_STORAGE_URI": group.url,  # the default booking limit on, counted in the same Redis
        "QUEUE_TERMS_KEEP_SECONDS": str(KEEP),
        "ADMIN_TOKEN": TOKEN,
        "GUNICORN_WORKERS": "1",  # one process, so one copy of the terms
        "DEMO_TIERS": "VIP:100.00:5000,GA:10.00:5000",
    }
    with open(tmp_path / "server.log", "w+") as log, gunicorn(env, log) as (base, _):
        assert call(f"{base}/api/admin/waiting-room", {"tiers": ["VIP"], "rate": 1000}, AUTH).status == 201
        queue_pass = admitted(base, "ann")

        def book(user: str, tier: str, with_pass: str | None = None) -> str:
            headers = {"Queue-Pass": with_pass} if with_pass else {}
            return answer(call(f"{base}/api/tickets/book", {"userId": user, "tier": tier, "quantity": 1}, headers))

        assert book("ann", "VIP", queue_pass) == "201"  # the terms and the pass key read before the fault
        processes["redis-primary"].kill()
        killed = time.monotonic()
        seen: dict[str, Counter[str]] = {name: Counter() for name in ("GA", "VIP pass", "VIP none", "VIP bob", "join")}
        while not (seen["join"]["503 QUEUE_UNAVAILABLE"] and seen["join"]["201"]):
            assert time.monotonic() - killed < FAILOVER_WITHIN, f"the failover did not end: {seen}"
            seen["GA"][book(f"ga-{uuid.uuid4().hex[:6]}", "GA")] += 1
            seen["VIP pass"][book("ann", "VIP", queue_pass)] += 1
            seen["VIP none"][book("carl", "VIP")] += 1
            seen["VIP bob"][book("bob", "VIP", queue_pass)] += 1
            seen["join"][answer(call(f"{base}/api/queue", {"userId": f"j-{uuid.uuid4().hex[:6]}"}))] += 1
            time.sleep(0.3)  # under the default limit of 20 a second
        assert group.primary_now() == group.replica
        assert set(seen["GA"]) == {"201"} and set(seen["VIP pass"]) == {"201"}, seen
        assert set(seen["VIP none"]) == set(seen["VIP bob"]) == {"403 QUEUE_PASS_REQUIRED"}, seen

        processes["redis-replica"].kill()  # the new primary too: no Redis at all now
        processes["redis-replica"].wait()
        assert (book("dora", "GA"), book("ann", "VIP", queue_pass)) == ("201", "201")
        time.sleep(KEEP + 1)
        assert (book("dora", "GA"), book("ann", "VIP", queue_pass)) == ("503 QUEUE_UNAVAILABLE",) * 2


def admitted(base: str, user: str) -> str:
    """Join and look at the ticket until admitted; the pass."""
    ticket = call(f"{base}/api/queue", {"userId": user}).body
    while ticket["state"] == "waiting":
        time.sleep(0.2)
        ticket = call(f"{base}/api/queue/{ticket['ticketId']}").body
    assert ticket["state"] == "admitted", ticket
    return str(ticket["queuePass"])
