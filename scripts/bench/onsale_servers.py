"""The servers of an on-sale run (``scripts/bench/onsale.py``): ours on a fresh schema with
its projection process (and, for ``room-apart``, a second server for the queue), the
row-locking baseline, and what the run reads back from them afterwards."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from application import BookingLedger
from scripts.bench import baseline_app, wrk
from scripts.bench.kit import HERE, PG, ROOT, fresh_schema, renice
from scripts.bench.onsale_buyers import quantiles

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Both servers keep idle connections 75 s, as behind a load balancer (whose upstream
# connections close before the server's): with gunicorn's 2 s, a buyer's next look after a
# pause met a connection the server had just closed ("Connection reset by peer"). Ours runs
# as ``ticketledger serve`` does (web/server/gunicorn_settings.py: 2 gevent workers).
KEEP_ALIVE = ("--keep-alive", "75")
BACKLOG = ("--backlog", "4096")


def ours_env(schema: str, capacity: int) -> dict[str, str]:
    return {
        **PG,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": "8",
        "POSTGRES_MAX_OVERFLOW": "4",
        "BOOKING_RATE_LIMIT": "",
        "DEMO_TIERS": f"ONSALE:50.00:{capacity}",
        "GUNICORN_ACCESSLOG": "",
        "RATE_LIMIT_STORAGE_URI": REDIS_URL,
        "QUEUE_STORAGE_URI": REDIS_URL,
        "QUEUE_REDIS_PREFIX": f"onsale-bench:{secrets.token_hex(6)}",
        "ADMIN_TOKEN": secrets.token_hex(16),
    }


def merged_latencies(servers: list[subprocess.Popen]) -> dict[str, dict]:
    """The servers' own view, from their JSON request logs: time spent inside the app per
    endpoint (not the wait in the accept queue or for a worker, which the clients see)."""
    durations: dict[str, list[float]] = {}
    for server in servers:
        with open(server.log_path) as log:
            for line in log:
                if line.startswith("{") and '"duration_ms"' in line:
                    record = json.loads(line)
                    path = record["path"]
                    endpoint = (
                        "status"
                        if path.startswith("/api/queue/")
                        else {"/api/queue": "join", "/api/tickets/book": "book"}.get(path)
                    )
                    if endpoint and record["method"] in ("GET", "POST"):
                        durations.setdefault(endpoint, []).append(record["duration_ms"] / 1000)
    return {endpoint: quantiles(values) for endpoint, values in durations.items()}


@dataclass
class Ours:
    """Our service as one run sees it."""

    base: str  # the API
    queue_base: str  # where the buyers send /api/queue requests: the same, or the queue's own server
    env: dict[str, str]
    servers: list[subprocess.Popen]  # gunicorn masters (each with its ``log_path``)
    projector: subprocess.Popen  # the projection process


@contextmanager
def our_service(schema: str, capacity: int, port: int, queue_apart: bool) -> Iterator[Ours]:
    """Our service on a fresh schema, with the projection process. With ``queue_apart``, a
    second server of the same app (2 gevent workers, CPU priority lowered by 10) takes the
    queue's requests, as a load balancer routing ``/api/queue`` would: the queue's processes
    then never take the CPU from the ledger's, which on a real site are other hosts."""
    fresh_schema(schema)
    env = ours_env(schema, capacity)
    servers = [
        wrk.start_project_gunicorn(env, f"127.0.0.1:{port + 2 * n}", extra_args=(*BACKLOG, *KEEP_ALIVE))
        for n in range(2 if queue_apart else 1)
    ]
    projector = subprocess.Popen(
        [sys.executable, "-m", "projections"], cwd=ROOT, env=os.environ | env, stderr=subprocess.DEVNULL
    )
    try:
        for n, server in enumerate(servers):
            wrk.wait_http(f"http://127.0.0.1:{port + 2 * n}/health", proc=server)
        if queue_apart:
            renice(servers[1], 10)
        queue_base = f"http://127.0.0.1:{port + 2 * (len(servers) - 1)}"
        yield Ours(f"http://127.0.0.1:{port}", queue_base, env, servers, projector)
    finally:
        for server in servers:
            wrk.stop(server)
        projector.terminate()
        projector.wait(30)
        forget_queue(env["QUEUE_REDIS_PREFIX"])


def forget_queue(prefix: str) -> None:
    """Delete the run's keys (Redis may be shared: never FLUSHDB)."""
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}:*", count=1000):
        client.delete(key)


@contextmanager
def baseline_server(capacity: int, port: int) -> Iterator[tuple[str, subprocess.Popen]]:
    env = {**PG, "POSTGRES_SCHEMA": "onsale_baseline", "POSTGRES_POOL_SIZE": "4"}
    fresh_schema("onsale_baseline")
    baseline_app.seed(None, "onsale_baseline", {"ONSALE": capacity})
    server = wrk.start_gunicorn(
        "baseline_app:create_app()", env, f"127.0.0.1:{port}", 4, 4, str(HERE), extra_args=(*BACKLOG, *KEEP_ALIVE)
    )
    try:
        wrk.wait_http(f"http://127.0.0.1:{port}/health", proc=server)
        yield f"http://127.0.0.1:{port}", server
    finally:
        wrk.stop(server)


def admin(ours: Ours, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{ours.base}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {ours.env['ADMIN_TOKEN']}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def our_books(env: dict[str, str]) -> dict:
    """Sold, by the tier's events."""
    with BookingLedger(env={**env, "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "0"}) as ledger:
        sold = ledger.get_tier("ONSALE").sold
    return {"sold_events": sold}
