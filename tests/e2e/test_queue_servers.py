"""One queue for every server: two gunicorn servers (two gevent workers each) on one
PostgreSQL and one Redis, seen only from outside, over HTTP.

Buyers join through either server, before and after the opening; the pre-queue's order
is drawn once for everyone, later arrivals keep their order, a user has one place
whichever server they ask, a pass from one server books on the other, and a server
replaced by a new one (a restart) loses nobody's place.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scripts.harness.processes import call, gunicorn, wait_for
from tests.queue_stores import REDIS_URL, redis_client, redis_prefix

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
TOKEN = "queue-servers-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EARLY, LATE = 24, 8


def book(base: str, user: str, queue_pass: str | None = None):
    headers = {"Queue-Pass": queue_pass} if queue_pass else {}
    return call(f"{base}/api/tickets/book", {"userId": user, "tier": "VIP", "quantity": 1}, headers)


def test_two_servers_share_one_queue_and_a_restart_loses_no_place(postgres_env, tmp_path: Path):
    redis_client()
    with redis_prefix() as prefix, ExitStack() as servers:
        env = {
            **postgres_env,
            "QUEUE_STORAGE_URI": REDIS_URL,
            "QUEUE_REDIS_PREFIX": prefix,
            "ADMIN_TOKEN": TOKEN,
            "PROJECT_IN_PROCESS": "yes",
            "BOOKING_RATE_LIMIT": "",
            "ADMIN_AUTH_RATE_LIMIT": "",
            "DEMO_TIERS": "VIP:100.00:500,GA:10.00:10",
        }
        logs = [open(tmp_path / f"server{n}.log", "w+") for n in range(3)]
        one, _ = servers.enter_context(gunicorn(env, logs[0]))
        two_server = gunicorn(env, logs[1])
        two, _ = two_server.__enter__()
        bases = [one, two]

        opens = datetime.now(UTC) + timedelta(seconds=4)
        room = call(
            f"{one}/api/admin/waiting-room",
            {"tiers": ["VIP"], "rate": 4, "opensAt": opens.isoformat(), "passSeconds": 120},
            AUTH,
        )
        assert room.status == 201, room.body
        wait_for(lambda: book(two, "early-bird").status == 403, 5, "the second server to gate VIP")
        assert (
            book(two, "anyone-on-ga").status == 403
            and call(f"{two}/api/tickets/book", {"userId": "u", "tier": "GA", "quantity": 1}).status == 201
        )

        early = {f"e{n}": call(f"{bases[n % 2]}/api/queue", {"userId": f"e{n}"}).body for n in range(EARLY)}
        assert all(t["state"] == "waiting" and t["position"] is None for t in early.values())
        again = {user: call(f"{bases[1 - n % 2]}/api/queue", {"userId": user}) for n, user in enumerate(early)}
        assert all((r.status, r.body["ticketId"]) == (200, early[u]["ticketId"]) for u, r in again.items())
        assert time.time() < opens.timestamp(), "the machine is too slow for this test's opening time"

        wait_for(lambda: time.time() > opens.timestamp() + 0.2, 10, "the opening")
        late = [call(f"{bases[n % 2]}/api/queue", {"userId": f"l{n}"}).body for n in range(LATE)]
        assert [t["position"] + t["admitted"] for t in late] == list(range(EARLY + 1, EARLY + LATE + 1))

        # The pre-queue's places: drawn once, the same whichever server is asked.
        seen = {u: call(f"{bases[n % 2]}/api/queue/{t['ticketId']}").body for n, (u, t) in enumerate(early.items())}
        waiting = {u: t["position"] + t["admitted"] for u, t in seen.items() if t["state"] == "waiting"}
        assert len(waiting) >= EARLY // 2, "too slow a machine: most were admitted before they were seen"
        assert len(set(waiting.values())) == len(waiting) and all(0 < p <= EARLY for p in waiting.values())

        # The second server is replaced by a new one: every place is still there.
        two_server.__exit__(None, None, None)
        three, _ = servers.enter_context(gunicorn(env, logs[2]))
        bases = [one, three]
        tickets = {**{u: t["ticketId"] for u, t in early.items()}, **{t["userId"]: t["ticketId"] for t in late}}
        admitted: dict[str, dict] = {}
        deadline = time.monotonic() + 60
        while len(admitted) < len(tickets):
            assert time.monotonic() < deadline, f"only {len(admitted)} of {len(tickets)} admitted"
            for n, (user, ticket_id) in enumerate(tickets.items()):
                if user not in admitted:
                    status = call(f"{bases[n % 2]}/api/queue/{ticket_id}").body
                    assert status["state"] in ("waiting", "admitted"), status
                    if status["state"] == "admitted":
                        admitted[user] = status
                    elif user in waiting:
                        assert status["position"] + status["admitted"] == waiting[user]
            time.sleep(0.2)

        # Passes from either server book on the other (one signing key, in Redis).
        statuses = [
            book(bases[(n + 1) % 2], user, admitted[user]["queuePass"]).status
            for n, user in enumerate(sorted(admitted))
        ]
        assert statuses == [201] * len(admitted)
        assert book(one, "never-queued").status == 403

        shared = [call(f"{base}/api/queue").body for base in bases]
        assert shared[0]["joined"] == shared[1]["joined"] == EARLY + LATE
        closed = call(f"{three}/api/admin/waiting-room/close", {}, AUTH).body
        assert (closed["joined"], closed["admitted"], closed["passes"]) == (EARLY + LATE,) * 3
        trail = call(f"{one}/api/admin/waiting-room/{room.body['roomId']}/events", headers=AUTH).body
        assert [e["event"] for e in trail if e["event"] != "AdmissionsCounted"] == ["Opened", "Closed"]
        wait_for(lambda: book(one, "after-close").status == 201, 5, "the room to be off everywhere")
    for log in logs:
        log.seek(0)
        output = log.read()
        assert "Traceback" not in output, output
