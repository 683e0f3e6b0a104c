"""Benchmark a sale against the row-locking baseline.

    ticketledger bench                       # or: make bench
    ticketledger bench --seconds 5 --history-events 0 --parts hot,mixed

Both servers run under gunicorn against the local PostgreSQL (``POSTGRES_*``, default
127.0.0.1:5432 user postgres, database test), each in its own schema, up side by side, and
each load runs on ours and then on the baseline. Ours runs with the project's own gunicorn
settings and the projection process, as the README runs it. The parts:
- ``hot`` (``hot.py``): bookings alone, one hot tier at 16 to 4,096 connections, three tiers,
  a sell-out, and ours again with twice its workers;
- ``mixed`` (``mixed.py``): a sale as it really is, bookings among readers of the tier list
  and browsers following it;
- ``streams`` (``mixed.py``, ``streams.py``, ``edge_crowds.py``): bookings beside 2,000 and
  8,000 browsers following the tier list, ours streaming, the baseline polling; then ours
  with the followers through the edge;
- ``orders`` (``orders.py``): an order of two hot tiers against a single booking, on ours;
- ``floods`` (``floods.py``): the on-sale floods, with the waiting room, without, and on the
  baseline;
- ``network`` (``network.py``): the hot tier with PostgreSQL 0, 1 and 2 ms away (a delaying
  proxy), round trips and CPU per booking of every process, and open-loop latency;
- ``far`` (``network.py``): the hot tier with PostgreSQL 20 and 50 ms away, a web host in
  another region, at 16 and 64 connections;
- ``history``: booking latency on a tier with 1,000,000 prior events; ``rebuild``: the rate
  of a rebuild of the read tables;
- ``audience`` (``audience.py``): 1,000 to 50,000 people at once, each a browser's life, on
  the origin alone, through an edge and on the baseline (its own servers, not the two above).
After every run the books must balance. Also measured: /health as the ceiling, projection
lag while booking, each worker's memory, and before each run how long this host takes for
a fixed piece of Python (its speed changes from minute to minute). Results go to
var/bench/<time>.json and a table is printed; a whole run also writes its tables into
docs/performance.md, between its markers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from application import BookingLedger
from domain.tiers import tier_id
from projections import Projector, open_view
from projections.read_model.rebuild import rebuild
from scripts.bench import audience, baseline_app, edge_crowds, floods, hot, mixed, network, orders, wrk
from scripts.bench.kit import (
    HERE,
    OURS_ENV,
    OURS_WORKERS,
    PG,
    ROOT,
    Server,
    fresh_schema,
    our_books,
    wait_idle,
)

PARTS = ("hot", "mixed", "streams", "orders", "floods", "network", "far", "history", "rebuild", "audience")


def side_by_side(seconds: int, ports: tuple[int, int, int], parts: set[str]) -> tuple[dict, dict]:
    """Both servers up at once, each load run on ours and then on the baseline, so that
    each pair of rows is measured minutes apart at most: this host's speed changes from
    minute to minute. Then ours again with twice its workers."""
    fresh_schema("bench_ours")
    demo = ",".join(f"{code}:100.00:{cap}" for code, cap in hot.TIERS.items()) + ",SELLOUT:100.00:3000"
    env = {**OURS_ENV, "DEMO_TIERS": demo}
    base_env = {**PG, "POSTGRES_SCHEMA": "bench_baseline", "POSTGRES_POOL_SIZE": "4"}
    os.environ.update({"POSTGRES_SCHEMA": "bench_baseline"})
    baseline_app.seed(None, "bench_baseline", {**hot.TIERS, "SELLOUT": 3000})
    base_books = lambda: baseline_app.check("bench_baseline")  # noqa: E731
    with BookingLedger(env=OURS_ENV) as ledger:
        follower = Projector(ledger, open_view(ledger))
        books = lambda: our_books(ledger, follower)  # noqa: E731
        lag = lambda stop, samples: hot.measure_lag(ledger, follower, stop, samples)  # noqa: E731
        with (
            Server(None, env, ports[0], OURS_WORKERS) as server,
            Server("baseline_app:create_app()", base_env, ports[1], 4, 4, HERE) as base,
        ):
            server.with_projections()
            ours = {"ceiling": wrk.run_wrk(server.url + "/health", 64, seconds, env={"BENCH_BODY_MODE": "none"})}
            baseline = {"ceiling": wrk.run_wrk(base.url + "/health", 64, seconds, env={"BENCH_BODY_MODE": "none"})}
            print(
                f"/health: ours {ours['ceiling']['rps']:.0f}/s, baseline {baseline['ceiling']['rps']:.0f}/s", flush=True
            )
            if "hot" in parts:
                ours["runs"], baseline["runs"] = hot.runs(server.url, base.url, seconds, books, base_books, lag)
                ours["sellout"] = hot.sellout(server.url, books, idle=base.url)
                baseline["sellout"] = hot.sellout(base.url, base_books, idle=server.url)
            if "mixed" in parts:
                mixed_runs = mixed.runs(server.url, base.url, seconds, hot.HOT, wait_idle)
                ours["mixed"], baseline["mixed"] = mixed_runs["ours"], mixed_runs["baseline"]
                ours["mixed_books"], baseline["mixed_books"] = books(), base_books()
            if "streams" in parts:
                crowds = mixed.crowd_runs(server.url, base.url, seconds, hot.HOT, wait_idle)
                ours["crowds"], baseline["crowds"] = crowds["ours"], crowds["baseline"]
                ours["edge_crowds"] = edge_crowds.runs(server.url, seconds, hot.HOT, wait_idle)
            if "orders" in parts:
                ours["orders"] = orders.runs(server.url, seconds, books)
            ours["worker_rss_mb"] = server.worker_rss_mb()
            print(f"ours: worker RSS {ours['worker_rss_mb']} MB", flush=True)
        if "hot" in parts:
            with Server(None, env, ports[2], 2 * OURS_WORKERS) as server:
                server.with_projections()
                ours["doubled"] = hot.doubled(server.url, seconds, books, lag, 2 * OURS_WORKERS)
    return ours, baseline


def bench_history(events: int, port: int) -> dict:
    """Booking p50 (1 connection) on a fresh tier and on one with ``events`` prior events."""
    with BookingLedger(env=OURS_ENV) as ledger:
        ledger.ensure_tier("FRESH", Decimal("1.00"), 10_000_000)
        ledger.ensure_tier("HISTORY", Decimal("1.00"), 0)
        started = time.perf_counter()
        while (tier := ledger.repository.get(tier_id("HISTORY"))).version < events:
            for _ in range(min(10_000, events - tier.version)):
                tier.add_capacity(1)
            ledger.save(tier)
        seeded = time.perf_counter() - started
        print(f"history: {events} events seeded in {seeded:.0f} s", flush=True)
    result = {"events": events, "seed_seconds": round(seeded, 1)}
    with Server(None, {**OURS_ENV, "DEMO_TIERS": ""}, port, OURS_WORKERS) as server:
        for name in ("FRESH", "HISTORY", "FRESH", "HISTORY"):  # interleaved; the second pair counts
            result[name] = wrk.run_wrk(server.url + "/api/tickets/book", 1, 5, threads=1, env={"BENCH_TIERS": name})[
                "latency_ms"
            ]
    result["p50_ratio"] = round(result["HISTORY"]["p50"] / result["FRESH"]["p50"], 2)
    return result


def bench_rebuild() -> dict:
    with BookingLedger(env=OURS_ENV) as ledger:
        started = time.perf_counter()
        applied = rebuild(ledger)
        seconds = time.perf_counter() - started
    print(f"rebuild: {applied} events in {seconds:.1f} s", flush=True)
    return {"events": applied, "seconds": round(seconds, 1), "events_per_second": round(applied / seconds)}


def table(result: dict) -> str:
    lines = [f"Benchmark {result['started']} on {result['machine']}"]
    if "audience" in result:
        lines += ["", "The audience", "", *audience.table(result["audience"])]
    if "ours" not in result:
        return "\n".join(lines)
    ours, base = result["ours"], result["baseline"]
    if "runs" in ours:
        lines += ["", "Bookings alone", "", *hot.table(ours, base)]
    if "mixed" in ours:
        lines += [
            "",
            "A sale as it really is: bookings among the people who look",
            "",
            *mixed.table(ours["mixed"], base["mixed"]),
        ]
    if "crowds" in ours:
        lines += ["", "Bookings beside thousands of followers", "", *mixed.crowd_table(ours["crowds"], base["crowds"])]
        lines += ["", "... the followers through the edge (ours)", "", *edge_crowds.table(ours["edge_crowds"])]
    if "orders" in ours:
        lines += ["", "An order across two hot tiers against a booking (ours)", "", *orders.table(ours["orders"])]
    if "floods" in result:
        lines += ["", "The on-sale flood", "", *floods.table(result["floods"])]
    if "network" in result:
        lines += ["", "The database across a network", "", *network.table(result["network"])]
    if "far" in result:
        lines += ["", "A web host in a far region", "", *network.far_table(result["far"])]
    lines += [
        "",
        f"/health ceiling: ours {ours['ceiling']['rps']:.0f}/s, baseline {base['ceiling']['rps']:.0f}/s",
        f"worker RSS at the end (ours): {ours['worker_rss_mb']} MB",
    ]
    if "history" in result:
        h = result["history"]
        lines.append(
            f"booking p50: fresh tier {h['FRESH']['p50']:.1f} ms, after {h['events']:,} events "
            f"{h['HISTORY']['p50']:.1f} ms (ratio {h['p50_ratio']})"
        )
    if "rebuild" in result:
        r = result["rebuild"]
        lines.append(f"rebuild: {r['events']:,} events in {r['seconds']} s = {r['events_per_second']:,} events/s")
    return "\n".join(lines)


START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def publish(tables: str, page: Path) -> None:
    """Put ``tables`` between the page's markers, in place of the last run's."""
    text = page.read_text()
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    page.write_text(f"{before}{START}\n{tables}\n{END}{after}")


def balanced(result: dict) -> bool:
    """Whether the books balanced after every run."""
    parts = ("runs", "doubled", "orders")
    runs = [run for side in ("ours", "baseline") for part in parts for run in result.get(side, {}).get(part, [])]
    books = [run["books"] for run in runs] + [
        result[side][key] for side in ("ours", "baseline") for key in ("mixed_books",) if key in result.get(side, {})
    ]
    books += [
        at["books"][side] for part in ("network", "far") for at in result.get(part, []) for side in ("ours", "baseline")
    ]
    return (
        all(t["ok"] for tiers in books for t in tiers.values())
        and all(f["sold_by_clients"] == f["capacity"] for f in result.get("floods", []))
        and all(a["sold_out_and_balanced"] for a in result.get("audience", []))
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=int, metavar="N", default=10, help="length of each load run (default 10)")
    parser.add_argument(
        "--history-events",
        type=int,
        default=1_000_000,
        metavar="N",
        help="prior events of the history test's tier (default 1,000,000)",
    )
    parser.add_argument("--parts", default=",".join(PARTS), help=f"which to run (default all: {','.join(PARTS)})")
    audience.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if not shutil.which("wrk"):
        return print("wrk is missing: apt-get install wrk", file=sys.stderr) or 2
    parts = set(args.parts.split(","))
    if parts - set(PARTS):
        return (
            print(f"unknown parts: {sorted(parts - set(PARTS))}; choose from {','.join(PARTS)}", file=sys.stderr) or 2
        )
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # wrk's 4,096 connections
    started = datetime.now(UTC).isoformat(timespec="seconds")
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    machine = (
        f"{os.cpu_count()} cores, {memory_gib:.0f} GiB, {os.uname().sysname} {os.uname().machine}, "
        f"PostgreSQL at {PG['POSTGRES_HOST']}"
    )
    result = {"started": started, "machine": machine, "seconds": args.seconds, "parts": sorted(parts)}
    if parts - {"audience"}:
        result["ours"], result["baseline"] = side_by_side(args.seconds, (8431, 8432, 8434), parts)
    if "floods" in parts:
        result["floods"] = floods.runs()
    if "network" in parts:
        result["network"] = network.runs(args.seconds)
    if "far" in parts:
        result["far"] = network.far_runs(args.seconds)
    if "history" in parts:
        result["history"] = bench_history(args.history_events, 8433)
    if "rebuild" in parts:
        result["rebuild"] = bench_rebuild()
    if "audience" in parts:
        result["audience"] = audience.runs(args)
    out = ROOT / "var" / "bench" / f"{started.replace(':', '')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(table(result))
    print(f"\nresults: {out.relative_to(ROOT)}")
    if parts == set(PARTS):  # a whole run: its tables are the documented ones
        publish(table(result), ROOT / "docs" / "performance.md")
        print("tables written to docs/performance.md")
    return 0 if balanced(result) else 1
