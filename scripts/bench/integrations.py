"""Benchmark the integrations: webhook delivery rate and lag, and what a dead endpoint costs.

    python -m scripts.bench.integrations                 # 10 s runs at 64 connections
    python -m scripts.bench.integrations --seconds 5 --connections 16

The production shape on the local PostgreSQL (schema bench_integrations, recreated):
the API under gunicorn (2 gevent workers) and ``python -m projections`` beside it, which
fills the outbox and delivers webhooks. wrk books one ticket per request, spread over
three tiers, for each run:

0. 10,000 bookings recorded first (so the dead endpoint below has that many queued);
1. no webhook endpoint (the reference);
2. a live endpoint (a receiver in this process): booking latency, and for every notice
   the lag from its recording (``occurredAt``) to its arrival, and the delivery rate;
3. the same live endpoint beside a dead one (accepts connections, never answers) that
   has every notice so far queued (more than 10,000): booking latency again, and the
   live endpoint's lag, which should not move;
4. no endpoint again (the reference once more: how much the machine itself varies);
5. with no load: the whole history replayed to a fresh receiver (delivery rate alone).

Results go to var/bench/integrations-<time>.json and a summary is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

from application import BookingLedger
from projections.integrations.mapping import TOPICS
from projections.integrations.store import IntegrationTables
from projections.integrations.webhooks import WebhookEndpoints
from scripts.bench import wrk
from scripts.bench.kit import (
    OURS_ENV,
    OURS_WORKERS,
    ROOT,
    Server,
    fresh_schema,
    percentiles,
)
from scripts.bench.webhook_receiver import BlackHole, Receiver

SCHEMA = "bench_integrations"
TIERS = "VIP,FRONT_ROW,GA"
ENV = {
    **OURS_ENV,
    "POSTGRES_SCHEMA": SCHEMA,
    "DEMO_TIERS": ",".join(f"{t}:10.00:10000000" for t in TIERS.split(",")),
    "WEBHOOK_TIMEOUT": "2",
    "WEBHOOK_BACKOFF_BASE": "0.5",
    "WEBHOOK_BACKOFF_CAP": "5",
}


def book(url: str, seconds: int, connections: int) -> dict:
    result = wrk.run_wrk(url + "/api/tickets/book", connections, seconds, env={"BENCH_TIERS": TIERS})
    summary = {"rps": round(result["rps"]), "latency_ms": result["latency_ms"], "statuses": result["statuses"]}
    print(
        f"  bookings {summary['rps']}/s, p50/p95/p99 "
        + "/".join(f"{result['latency_ms'][p]:.0f}" for p in ("p50", "p95", "p99"))
        + " ms",
        flush=True,
    )
    return summary


def drained(
    tables: IntegrationTables, ledger: BookingLedger, receiver: Receiver, after: int, timeout: float = 300
) -> list:
    """Wait until the receiver has every notice after ``after`` that the store's bookings
    made; return them (the accepted bodies, parsed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outbox_caught_up = not ledger.recorder.select_notifications(tables.position("outbox") + 1, 1, topics=TOPICS)
        expected = len(tables.notices_after(after, 10_000_000)) if outbox_caught_up else -1
        if len(receiver.accepted()) >= expected >= 0:
            return [json.loads(body) for body in receiver.accepted()]
        time.sleep(0.2)
    raise TimeoutError("the receiver did not get every notice")


def delivery(notices: list, receiver: Receiver) -> dict:
    """Lag from recording to arrival, and the delivery rate while it lasted."""
    arrived = {json.loads(r.body)["id"]: r.at for r in receiver.requests if r.status == 200}
    lags = [(arrived[n["id"]] - datetime.fromisoformat(n["occurredAt"]).timestamp()) * 1000 for n in notices]
    span = max(arrived.values()) - min(arrived.values())
    return {
        "events": len(notices),
        "events_per_second": round(len(notices) / span) if span else None,
        "lag_ms": percentiles(lags),
        "max_lag_ms": round(max(lags), 1),
    }


def seed(ledger: BookingLedger, bookings: int) -> None:
    """Record ``bookings`` one-ticket bookings from 16 threads (group-committed)."""
    threads = [
        threading.Thread(target=lambda t=t: [ledger.book(f"seed{t}-{n}", "GA", 1) for n in range(bookings // 16)])
        for t in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def bench(seconds: int, connections: int, port: int) -> dict:
    fresh_schema(SCHEMA)
    result: dict = {"connections": connections, "seconds": seconds}
    with BookingLedger(env=ENV) as ledger, Server(None, ENV, port, OURS_WORKERS) as server:
        projector = subprocess.Popen(
            [sys.executable, "-m", "projections"], cwd=ROOT, env=os.environ | ENV, stderr=subprocess.DEVNULL
        )
        try:
            tables = IntegrationTables(ledger)
            endpoints = WebhookEndpoints(tables)
            seed(ledger, 10_000)
            print("no endpoint:", flush=True)
            result["no_endpoint"] = book(server.url, seconds, connections)
            with Receiver() as live:
                start = endpoints.add(live.url).position
                print("a live endpoint:", flush=True)
                result["live"] = book(server.url, seconds, connections)
                result["live"]["delivery"] = delivery(drained(tables, ledger, live, start), live)
                print(f"  delivery {result['live']['delivery']}", flush=True)
                with BlackHole() as dead_url:
                    dead = endpoints.replay(endpoints.add(dead_url).endpoint_id, after=0)
                    result["dead_queued"] = len(tables.notices_after(dead.position, 10_000_000))
                    before = len(live.accepted())
                    print(f"a live endpoint and a dead one with {result['dead_queued']:,} events queued:", flush=True)
                    result["live_and_dead"] = book(server.url, seconds, connections)
                    notices = drained(tables, ledger, live, start)[before:]
                    result["live_and_dead"]["delivery"] = delivery(notices, live)
                    result["dead_attempts"] = len(endpoints.deliveries(dead.endpoint_id, 1000))
                    print(
                        f"  live delivery {result['live_and_dead']['delivery']}, "
                        f"dead endpoint: {result['dead_attempts']} failed attempts",
                        flush=True,
                    )
            print("no endpoint, again:", flush=True)
            result["no_endpoint_again"] = book(server.url, seconds, connections)
            with Receiver() as replayed:
                endpoint = endpoints.replay(endpoints.add(replayed.url).endpoint_id, after=0)
                result["replay"] = delivery(drained(tables, ledger, replayed, endpoint.position), replayed)
                print(f"replay of the whole history, no load: {result['replay']}", flush=True)
        finally:
            projector.terminate()
            projector.wait(30)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args(argv)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    result = {"started": started, "machine": f"{os.cpu_count()} cores", **bench(args.seconds, args.connections, 8434)}
    out = ROOT / "var" / "bench" / f"integrations-{started.replace(':', '')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
