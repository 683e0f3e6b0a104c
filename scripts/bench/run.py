"""Benchmark a hot sale against the row-locking baseline.

    ticketledger bench                       # or: make bench
    ticketledger bench --seconds 5 --history-events 0

Both servers run under gunicorn against the local PostgreSQL (``POSTGRES_*``, default
127.0.0.1:5432 user postgres, database test), each in its own schema, and are loaded by
wrk (scripts/bench/book.lua): one hot tier at 16, 64, 256, 1,024 and 4,096 connections,
three tiers at once at 64 and 1,024, each load on ours and then on the baseline, both
servers up side by side; and ours again with twice its worker processes on the hot tier.
Ours runs with the project's own gunicorn settings and the projection process, as the
README runs it. After every run the books must balance. Also measured:
/health as the ceiling, projection lag while booking, each worker's memory after 4,096
connections, a sell-out at 256 connections, booking latency on a tier with 1,000,000
prior events, the rebuild rate, and before each run how long this host takes for a fixed
piece of Python (its speed changes from minute to minute). Results go to
var/bench/<time>.json and a table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import psycopg

from application import BookingLedger
from domain.tiers import tier_id
from projections import Follower, open_view
from projections.rebuild import rebuild
from scripts.bench import baseline_app, wrk
from scripts.processes import children

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

TIERS = {"VIP": 10_000_000, "FRONT_ROW": 10_000_000, "GA": 10_000_000}
HOT, SPREAD = "VIP", "VIP,FRONT_ROW,GA"
LOADS = [*((connections, HOT) for connections in (16, 64, 256, 1024, 4096)), (64, SPREAD), (1024, SPREAD)]
DOUBLED = [(64, HOT), (1024, HOT)]  # ours again, with twice its worker processes
PG = {k: os.environ.get(k, d) for k, d in [
    ("POSTGRES_HOST", "127.0.0.1"), ("POSTGRES_PORT", "5432"), ("POSTGRES_DBNAME", "test"),
    ("POSTGRES_USER", "postgres"), ("POSTGRES_PASSWORD", "")]}
# Ours runs with the project's own gunicorn settings (scripts/gunicorn_settings.py: 2
# gevent workers on PostgreSQL), JSON logs, metrics and security headers on; the baseline
# with 4 gthread workers x 4 threads, the setting its numbers were quoted for.
OURS_WORKERS = 2
OURS_ENV = {**PG, "PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_SCHEMA": "bench_ours",
            "POSTGRES_POOL_SIZE": "8", "GUNICORN_ACCESSLOG": "", "BOOKING_RATE_LIMIT": ""}


def fresh_schema(name: str) -> None:
    with psycopg.connect(host=PG["POSTGRES_HOST"], port=PG["POSTGRES_PORT"], dbname=PG["POSTGRES_DBNAME"],
                         user=PG["POSTGRES_USER"], password=PG["POSTGRES_PASSWORD"], autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{name}"')


class Server:
    """A gunicorn server (and, for ours, the projection process) for the duration of a block:
    the baseline's app with the given workers and threads, or (``app_spec`` None) ours with
    the project's own settings."""

    def __init__(self, app_spec: str | None, env: dict, port: int, workers: int, threads: int = 1,
                 cwd: Path = ROOT) -> None:
        self.args = (app_spec, env, f"127.0.0.1:{port}", workers, threads, str(cwd))
        self.url = f"http://127.0.0.1:{port}"
        self.projector: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        app_spec, env, bind, workers, threads, cwd = self.args
        if app_spec is None:
            self.proc = wrk.start_project_gunicorn({**env, "GUNICORN_WORKERS": str(workers)}, bind)
        else:
            self.proc = wrk.start_gunicorn(app_spec, env, bind, workers, threads, cwd)
        wrk.wait_http(self.url + "/health", proc=self.proc)
        return self

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker process now, in MB."""
        return [round(rss_kb(pid) / 1024, 1) for pid in children(self.proc.pid)]

    def with_projections(self) -> Server:
        self.projector = subprocess.Popen([sys.executable, "-m", "projections"], cwd=ROOT,
                                          env=os.environ | OURS_ENV, stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc: object) -> None:
        wrk.stop(self.proc)
        if self.projector:
            self.projector.terminate()
            self.projector.wait(30)


def our_books(ledger: BookingLedger, follower: Follower) -> dict:
    """Sold per tier from the aggregates and from both read tables, once the requests
    still in flight when wrk stopped have been recorded and projected (reading earlier
    races them: up to one booking per connection lands between two reads)."""
    deadline, head = time.monotonic() + 60, -1
    while time.monotonic() < deadline:
        latest = ledger.recorder.max_notification_id() or 0
        if latest == head and follower.position >= latest:
            break
        head = latest
        time.sleep(0.3)
    view = follower.view
    confirmed: dict[str, int] = {}
    for booking in view.all_bookings():
        if booking.status == "confirmed":
            confirmed[booking.tier] = confirmed.get(booking.tier, 0) + booking.quantity
    books = {}
    for row in view.list_tiers():
        sold = ledger.get_tier(row.tier).sold
        books[row.tier] = {"sold": sold, "confirmed": confirmed.get(row.tier, 0),
                           "projected_sold": row.sold, "capacity_minus_available": row.capacity - row.available,
                           "ok": sold == confirmed.get(row.tier, 0) == row.sold == row.capacity - row.available}
    return books


def measure_lag(ledger: BookingLedger, follower: Follower, stop: threading.Event, samples: list) -> None:
    """Time from an event being the store's head to its row being in the read tables."""
    while not stop.is_set():
        started, head = time.perf_counter(), ledger.recorder.max_notification_id() or 0
        while follower.position < head and not stop.is_set():
            time.sleep(0.005)
        samples.append((time.perf_counter() - started) * 1000)
        stop.wait(0.05)


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def load_run(url: str, seconds: int, books, load: tuple[int, str], lag=None, idle: tuple[str, ...] = ()) -> dict:
    """One wrk run of ``load`` (connections, tiers) once this server and the ``idle`` ones
    have worked off what earlier runs left them (after 4,096 connections, a backlog that
    wrk gave up on: seconds of CPU that would otherwise go to this run), with the books
    checked after it (and the projection lag sampled during it, given ``lag``)."""
    connections, tiers = load
    wait_idle(url, *idle)
    host_ms = host_check_ms()
    samples: list[float] = []
    stop = threading.Event()
    sampler = threading.Thread(target=lag, args=(stop, samples)) if lag else None
    if sampler:
        sampler.start()
    result = wrk.run_wrk(url + "/api/tickets/book", connections, seconds, env={"BENCH_TIERS": tiers})
    stop.set()
    if sampler:
        sampler.join()
    result.update(tiers=tiers, books=books(), lag_ms=percentiles(samples) if samples else None, host_ms=host_ms)
    return result


def host_check_ms() -> float:
    """Milliseconds this host takes for a fixed piece of pure Python (best of 3), just
    before a run: its speed changes from minute to minute, and a row whose two runs saw
    different speeds has a ratio to distrust."""
    def once() -> float:
        started = time.perf_counter()
        sum(i * i for i in range(300_000))
        return (time.perf_counter() - started) * 1000
    return round(min(once() for _ in range(3)), 1)


def show(name: str, result: dict) -> None:
    print(f"  {name:<9} {result['connections']:>4} conn {result['tiers']:<18} {result['rps']:7.0f}/s "
          f"p95 {result['latency_ms']['p95']:6.1f} ms errors {sum(result['errors'].values())} "
          f"(host check {result['host_ms']} ms)", flush=True)


def percentiles(samples: list[float]) -> dict:
    q = statistics.quantiles(samples, n=100) if len(samples) > 1 else samples * 99
    return {"p50": round(q[49], 1), "p95": round(q[94], 1), "n": len(samples)}


def wait_idle(*urls: str) -> None:
    """Until every one of these servers has worked off what earlier runs left it."""
    for url in urls:
        wrk.wait_idle(url + "/health")


def sellout(url: str, books, idle: str) -> dict:
    wait_idle(url, idle)
    result = wrk.run_wrk(url + "/api/tickets/book", 256, 5, env={"BENCH_TIERS": "SELLOUT"})
    result["books"] = books()["SELLOUT"]
    return result


def bench_side_by_side(seconds: int, ports: tuple[int, int, int]) -> tuple[dict, dict]:
    """Both servers up at once, each load run on ours and then on the baseline, so that
    each pair of rows is measured minutes apart at most: this host's speed changes from
    minute to minute. Then ours again with twice its workers."""
    fresh_schema("bench_ours")
    demo = ",".join(f"{code}:100.00:{cap}" for code, cap in TIERS.items()) + ",SELLOUT:100.00:3000"
    env = {**OURS_ENV, "DEMO_TIERS": demo}
    base_env = {**PG, "POSTGRES_SCHEMA": "bench_baseline", "POSTGRES_POOL_SIZE": "4"}
    os.environ.update({"POSTGRES_SCHEMA": "bench_baseline"})
    baseline_app.seed(None, "bench_baseline", {**TIERS, "SELLOUT": 3000})
    base_books = lambda: baseline_app.check("bench_baseline")  # noqa: E731
    with BookingLedger(env=OURS_ENV) as ledger:
        follower = Follower(ledger, open_view(ledger))
        books = lambda: our_books(ledger, follower)  # noqa: E731
        lag = lambda stop, samples: measure_lag(ledger, follower, stop, samples)  # noqa: E731
        with Server(None, env, ports[0], OURS_WORKERS) as server, \
                Server("baseline_app:create_app()", base_env, ports[1], 4, 4, HERE) as base:
            server.with_projections()
            ours = {"ceiling": wrk.run_wrk(server.url + "/health", 64, seconds, env={"BENCH_BODY_MODE": "none"}),
                    "runs": []}
            baseline = {"ceiling": wrk.run_wrk(base.url + "/health", 64, seconds, env={"BENCH_BODY_MODE": "none"}),
                        "runs": []}
            print(f"/health: ours {ours['ceiling']['rps']:.0f}/s, baseline {baseline['ceiling']['rps']:.0f}/s",
                  flush=True)
            for load in LOADS:
                ours["runs"].append(load_run(server.url, seconds, books, load, lag, idle=(base.url,)))
                show("ours", ours["runs"][-1])
                baseline["runs"].append(load_run(base.url, seconds, base_books, load, idle=(server.url,)))
                show("baseline", baseline["runs"][-1])
            ours["worker_rss_mb"] = server.worker_rss_mb()  # after the 4,096-connection run, and the rest
            print(f"ours: worker RSS {ours['worker_rss_mb']} MB", flush=True)
            ours["sellout"] = sellout(server.url, books, idle=base.url)
            baseline["sellout"] = sellout(base.url, base_books, idle=server.url)
        with Server(None, env, ports[2], 2 * OURS_WORKERS) as server:
            server.with_projections()
            ours["doubled"] = [load_run(server.url, seconds, books, load, lag) for load in DOUBLED]
            for result in ours["doubled"]:
                show(f"ours x{2 * OURS_WORKERS}", result)
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
            result[name] = wrk.run_wrk(server.url + "/api/tickets/book", 1, 5, threads=1,
                                       env={"BENCH_TIERS": name})["latency_ms"]
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
    ours, base = result["ours"], result["baseline"]
    lines = [f"Benchmark {result['started']} on {result['machine']}",
             "| connections | tiers | ours workers | ours bookings/s | ours p50/p95/p99 ms | baseline bookings/s | "
             "baseline p50/p95/p99 ms | ours/baseline | errors (ours, baseline) | books balance | projection lag p50/p95 ms | "
             "host check ms (ours, baseline) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    baseline_at = {(b["connections"], b["tiers"]): b for b in base["runs"]}
    rows = [(o, OURS_WORKERS) for o in ours["runs"]] + [(o, 2 * OURS_WORKERS) for o in ours["doubled"]]
    for o, workers in rows:
        b = baseline_at[(o["connections"], o["tiers"])]
        balanced = all(t["ok"] for t in o["books"].values()) and all(t["ok"] for t in b["books"].values())
        lag = o["lag_ms"] or {}
        lines.append(
            f"| {o['connections']:,} | {'hot' if o['tiers'] == HOT else 'three'} | {workers} | {o['rps']:,.0f} | "
            f"{latencies(o)} | {b['rps']:,.0f} | {latencies(b)} | {ratio(o, b)} | "
            f"{errors(o)}, {errors(b)} | {'yes' if balanced else 'NO'} | {lag.get('p50')}/{lag.get('p95')} | "
            f"{o['host_ms']}, {b['host_ms']} |")
    lines.append(f"\nworker RSS after the 4,096-connection run (ours): {ours['worker_rss_mb']} MB")
    lines.append(f"\n/health ceiling: ours {ours['ceiling']['rps']:.0f}/s, baseline {base['ceiling']['rps']:.0f}/s")
    for name, run in (("ours", ours), ("baseline", base)):
        s = run["sellout"]
        lines.append(f"sell-out of 3,000 at 256 connections, {name}: statuses {s['statuses']}, "
                     f"p99 {s['latency_ms']['p99']:.0f} ms, books {s['books']}")
    if "history" in result:
        h = result["history"]
        lines.append(f"booking p50: fresh tier {h['FRESH']['p50']:.1f} ms, after {h['events']:,} events "
                     f"{h['HISTORY']['p50']:.1f} ms (ratio {h['p50_ratio']})")
    if "rebuild" in result:
        r = result["rebuild"]
        lines.append(f"rebuild: {r['events']:,} events in {r['seconds']} s = {r['events_per_second']:,} events/s")
    return "\n".join(lines)


def ratio(ours: dict, baseline: dict) -> str:
    """Ours over the baseline's bookings/s; a dash when the baseline answered nothing."""
    return f"{ours['rps'] / baseline['rps']:.2f}×" if baseline["rps"] else "—"


def latencies(run: dict) -> str:
    return "/".join(f"{run['latency_ms'][p]:,.0f}" for p in ("p50", "p95", "p99"))


def errors(run: dict) -> int:
    """Connection errors and timeouts (wrk's own 2 s), and every answer but 201."""
    return sum(run["errors"].values()) + sum(n for status, n in run["statuses"].items() if status != "201")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=int, metavar="N", default=10, help="length of each load run (default 10)")
    parser.add_argument("--history-events", type=int, default=1_000_000, metavar="N",
                        help="prior events of the history test's tier (default 1,000,000; 0 skips the test)")


def run(args: argparse.Namespace) -> int:
    if not shutil.which("wrk"):
        return print("wrk is missing: apt-get install wrk", file=sys.stderr) or 2
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # wrk's 4,096 connections
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    machine = (f"{os.cpu_count()} cores, {memory_gib:.0f} GiB, {os.uname().sysname} {os.uname().machine}, "
               f"PostgreSQL at {PG['POSTGRES_HOST']}")
    result = {"started": started, "machine": machine, "seconds": args.seconds}
    result["ours"], result["baseline"] = bench_side_by_side(args.seconds, (8431, 8432, 8434))
    if args.history_events:
        result["history"] = bench_history(args.history_events, 8433)
    result["rebuild"] = bench_rebuild()
    out = ROOT / "var" / "bench" / f"{started.replace(':', '')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(table(result))
    print(f"\nresults: {out.relative_to(ROOT)}")
    runs = [*result["ours"]["runs"], *result["ours"]["doubled"], *result["baseline"]["runs"]]
    balanced = all(t["ok"] for run in runs for t in run["books"].values())
    return 0 if balanced else 1
