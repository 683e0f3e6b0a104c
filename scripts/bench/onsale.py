"""The on-sale flood: N buyers arriving within seconds, with the waiting room and without.

    python -m scripts.bench.onsale --buyers 5000 --seconds 10 --tickets 5000 --rate 1000
    python -m scripts.bench.onsale --buyers 50000 --rate auto

In one run, against the local PostgreSQL (``POSTGRES_*``) and Redis (``REDIS_URL``), each
mode on a fresh schema: our service with the waiting room on (its queue in Redis, the
room opening as the first buyer arrives), the same with the queue's requests served by
processes of their own at a lower CPU priority (``room-apart``), the service with the room
off, and the row-locking baseline (``scripts/bench/baseline_app.py``). Our service runs as in
production (2 gevent workers, the projection process beside it, JSON logs) but without
the per-client rate limit: every buyer comes from 127.0.0.1. The buyers are in
``scripts/bench/onsale_buyers.py``, the servers in ``scripts/bench/onsale_servers.py``.
Prints a table and keeps the numbers in ``var/bench/onsale-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from scripts.bench import baseline_app
from scripts.bench.kit import ROOT, cpu_seconds, raise_file_limit
from scripts.bench.onsale_buyers import (
    Buyer,
    Seen,
    flood,
    make_buyers,
    out_of_order,
    quantiles,
)
from scripts.bench.onsale_servers import admin, baseline_server, merged_latencies, our_books, our_service

# ``room-flask``: every join from another site's page, which the join's answer before Flask
# (web/http/queue_answer.py) leaves to Flask: the room as every join was answered before it.
OTHER_ORIGIN = {"Origin": "https://elsewhere.example"}


def summary(mode: str, seen: Seen, buyers: list[Buyer], seconds: float, books: dict) -> dict:
    inverted, ordered = out_of_order(buyers)
    statuses: dict[str, dict[str, int]] = {}
    for (endpoint, status), count in sorted(seen.statuses.items()):
        statuses.setdefault(endpoint, {})[str(status)] = count
    return {
        "mode": mode,
        "buyers": len(buyers),
        "duration_s": round(seconds, 1),
        "statuses": statuses,
        "connection_errors": {f"{e} {x}": n for (e, x), n in seen.errors.items()},
        "server_errors": sum(n for (_, status), n in seen.statuses.items() if status >= 500),
        "latency_ms": {endpoint: quantiles(values) for endpoint, values in seen.latencies.items()},
        "sold_by_clients": seen.sold,
        "capacity": seen.capacity,
        "books": books,
        "sold_out_after_s": round(seen.sold_out_after, 2) if seen.sold_out_after is not None else None,
        "sold_out_heard_ms": quantiles([heard - seen.sold_out_after for heard in seen.sold_out_heard])
        if seen.sold_out_after is not None
        else None,
        "following": seen.follow,
        "out_of_order_pairs": inverted,
        "ordered_pairs": ordered,
        "inconsistent_answers": seen.inconsistent,
        "buyers_who_bought": sum(1 for b in buyers if b.bought),
        "client_cpu_s": round(seen.client_cpu_seconds, 1),
        "server_cpu_s": round(seen.server_cpu_seconds, 1),
        "server_cpu_ms_per_request": round(seen.server_cpu_seconds * 1000 / max(1, sum(seen.statuses.values())), 2),
        "load_average_after": round(os.getloadavg()[0], 1),
    }


def run_flood(
    bases: tuple[str, str],
    servers: list[subprocess.Popen],
    buyers: list[Buyer],
    queue: bool,
    connections: int,
    capacity: int,
    follow: str = "poll",
    join_headers: dict[str, str] | None = None,
) -> tuple[Seen, float]:
    """The flood, and how long it took; the clients' and the server workers' CPU time go on ``seen``.
    Buyers who follow their ticket's stream hold a connection each while they wait."""
    server_cpu = lambda: sum(cpu_seconds(server.pid) for server in servers)  # noqa: E731
    started, cpu, before = time.perf_counter(), time.process_time(), server_cpu()
    pool = max(connections, len(buyers)) if follow == "stream" else connections
    seen = asyncio.run(flood(bases, buyers, queue, pool, capacity, follow, join_headers))
    seen.client_cpu_seconds = time.process_time() - cpu
    seen.server_cpu_seconds = server_cpu() - before
    return seen, time.perf_counter() - started


def bench(args: argparse.Namespace) -> list[dict]:
    results = []
    buyers = lambda: make_buyers(args.buyers, args.seconds, args.seed)  # noqa: E731 - a fresh crowd per mode
    for mode in ("room-flask", "room", "room-apart"):
        if mode in args.modes:
            with our_service(f"onsale_{mode.replace('-', '_')}", args.tickets, args.port, mode == "room-apart") as ours:
                auto = args.rate == "auto"
                opens = datetime.now(UTC) + timedelta(seconds=args.lead)
                admin(
                    ours,
                    "/api/admin/waiting-room",
                    {
                        "tiers": ["ONSALE"],
                        "rate": args.start_rate if auto else float(args.rate),
                        "autoRate": auto,
                        "opensAt": opens.isoformat(),
                        "passSeconds": 300,
                    },
                )
                time.sleep(
                    max(0.0, (opens - datetime.now(UTC)).total_seconds())
                )  # the first buyer comes at the opening
                crowd = buyers()
                seen, seconds = run_flood(
                    (ours.base, ours.queue_base),
                    ours.servers,
                    crowd,
                    True,
                    args.connections,
                    args.tickets,
                    args.follow,
                    OTHER_ORIGIN if mode == "room-flask" else None,
                )
                room = admin(ours, "/api/admin/waiting-room/close", {})
            # The books are read once the servers are gone (PostgreSQL's connections are shared).
            results.append(summary(mode, seen, crowd, seconds, {**our_books(ours.env), "room": room}))
            results[-1]["server_latency_ms"] = merged_latencies(ours.servers)
            print_one(results[-1])
    if "direct" in args.modes:
        with our_service("onsale_direct", args.tickets, args.port, False) as ours:
            crowd = buyers()
            seen, seconds = run_flood(
                (ours.base, ours.base), ours.servers, crowd, False, args.connections, args.tickets
            )
        results.append(summary("direct", seen, crowd, seconds, our_books(ours.env)))
        results[-1]["server_latency_ms"] = merged_latencies(ours.servers)
        print_one(results[-1])
    if "baseline" in args.modes:
        with baseline_server(args.tickets, args.port + 1) as (base, server):
            crowd = buyers()
            seen, seconds = run_flood((base, base), [server], crowd, False, args.connections, args.tickets)
        results.append(summary("baseline", seen, crowd, seconds, baseline_app.check("onsale_baseline")["ONSALE"]))
        print_one(results[-1])
    return results


def print_one(result: dict) -> None:
    lat = result["latency_ms"]
    fmt = lambda q: "/".join(str(q.get(p, "-")) for p in ("p50", "p95", "p99"))  # noqa: E731
    print(
        f"{result['mode']:>8}: {result['buyers']} buyers in {result['duration_s']} s; answers {result['statuses']}; "
        f"connection errors {result['connection_errors'] or 0}; join {fmt(lat['join'])} ms, status "
        f"{fmt(lat['status'])} ms, book {fmt(lat['book'])} ms; sold {result['sold_by_clients']} of "
        f"{result['capacity']} (server: {result['books']}); sold out after {result['sold_out_after_s']} s, heard by "
        f"waiting buyers {fmt(result['sold_out_heard_ms'] or {})} ms later; "
        f"out of order {result['out_of_order_pairs']} of {result['ordered_pairs']} pairs; "
        f"inconsistent answers {result['inconsistent_answers']}; client CPU {result['client_cpu_s']} s, server "
        f"workers' {result['server_cpu_s']} s ({result['server_cpu_ms_per_request']} ms a request); "
        f"inside the server { ({e: fmt(q) for e, q in result.get('server_latency_ms', {}).items()}) }",
        flush=True,
    )


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.onsale", description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=10.0, help="they all arrive within this (default 10)")
    parser.add_argument("--tickets", type=int, default=5000, help="capacity of the one tier on sale")
    parser.add_argument("--rate", default="1000", help="buyers admitted per second, or 'auto' (default 1000)")
    parser.add_argument("--start-rate", type=float, default=200.0, help="the automatic rate's start (default 200)")
    parser.add_argument("--connections", type=int, default=1000, help="the clients' connection pool (default 1000)")
    parser.add_argument(
        "--modes",
        default="room,room-apart,direct,baseline",
        help="any of room, room-flask (the room, every join answered by Flask), room-apart (the queue on servers "
        "of its own), direct, baseline",
    )
    parser.add_argument(
        "--follow",
        choices=("stream", "poll", "frontier"),
        default="stream",
        help="how waiting buyers follow their ticket: its stream (default), polls, or the room's frontier as the "
        "page does (meant for behind an edge: without one every waiting buyer asks the origin once a second)",
    )
    parser.add_argument("--lead", type=float, default=2.0, help="seconds between turning the room on and the opening")
    parser.add_argument("--port", type=int, default=8441)
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args(argv)
    args.modes = args.modes.split(",")
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    limit = raise_file_limit()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    print(
        f"on-sale flood {started}: {args.buyers} buyers within {args.seconds} s, {args.tickets} tickets, "
        f"rate {args.rate}, {args.connections} connections, RLIMIT_NOFILE {limit}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    results = bench(args)
    out = ROOT / "var" / "bench" / f"onsale-{started.replace(':', '')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"started": started, "args": vars(args), "results": results}, indent=2))
    print(f"results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
