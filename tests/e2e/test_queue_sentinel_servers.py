"""Redis under Sentinel, its primary lost in a waiting-room flood, seen from outside: two
gunicorn servers reach the queue and the rate limits through three Sentinels
(``redis+sentinel://``), buyers join through both, and the primary is killed with its last
writes never replicated. Every buyer whose join was acknowledged keeps their place (the
number their ticket says; a place the new primary lacks is put back from the signed
ticket), newcomers after the failover come after them, joins are answered again within
10 s, and nothing but a 503 is answered meanwhile (the checks: scripts/verify/queue_flood.py,
shared with ``ticketledger verify --cluster --faults redis-lost``)."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis

from scripts.harness.processes import call, gunicorn
from scripts.verify.queue_flood import BACK_WITHIN, Flood, acknowledged, judged, kept_places, look_up
from tests.redis_sentinel import lose_the_primary_with_its_last_writes, redis_sentinel  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
TOKEN = "sentinel-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_the_redis_primary_lost_in_a_flood_costs_no_buyer_their_place(redis_sentinel, postgres_env, tmp_path: Path):
    group, processes = redis_sentinel
    env = {
        **postgres_env,
        "QUEUE_STORAGE_URI": group.url,
        "QUEUE_REDIS_PREFIX": "sentinel-test",
        "RATE_LIMIT_STORAGE_URI": group.url,  # the limits through Sentinel too, on and out of the way
        "BOOKING_RATE_LIMIT": "100000/second",
        "ADMIN_TOKEN": TOKEN,
        "PROJECT_IN_PROCESS": "yes",
        "DEMO_TIERS": "VIP:100.00:500",
    }
    with ExitStack() as stack:
        bases = [
            stack.enter_context(gunicorn(env, stack.enter_context(open(tmp_path / f"server{n}.log", "w+"))))[0]
            for n in range(2)
        ]
        assert call(f"{bases[0]}/api/admin/waiting-room", {"tiers": ["VIP"], "rate": 5}, AUTH).status == 201

        with Flood(bases) as flood:
            time.sleep(2.0)
            killed = lose_the_primary_with_its_last_writes(group, processes, 0.5)
            time.sleep(BACK_WITHIN + 2)
        assert group.primary_now() == group.replica

        kept = kept_places(redis.Redis(*group.replica), "sentinel-test")
        seen = look_up(bases, acknowledged(flood.answers))
        newcomer = call(f"{bases[0]}/api/queue", {"userId": "after-everyone"}).body["number"]
        found = judged(flood.answers, killed, kept, seen, newcomer)
        print(found.line())

        assert found.put_back, "the primary's last writes all reached the replica: the test lost nothing"
        assert found.refused, "the failover was not felt"
        last_refusal = max(answered for _, answered, status, _ in flood.answers if status == 503)
        assert last_refusal - killed <= BACK_WITHIN  # and is over
        assert found.held, found
