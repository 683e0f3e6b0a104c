"""The hot sale: bookings alone, one hot tier at 16 to 4,096 connections and three tiers at
64 and 1,024, each load on ours and then on the baseline (both servers up side by side);
a sell-out of 3,000 tickets at 256 connections; and ours again with twice its workers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from application import BookingLedger
from projections import Projector
from scripts.bench import wrk
from scripts.bench.kit import host_check_ms, latencies, percentiles, wait_idle

TIERS = {"VIP": 10_000_000, "FRONT_ROW": 10_000_000, "GA": 10_000_000}
HOT, SPREAD = "VIP", "VIP,FRONT_ROW,GA"
LOADS = [*((connections, HOT) for connections in (16, 64, 256, 1024, 4096)), (64, SPREAD), (1024, SPREAD)]
DOUBLED = [(64, HOT), (1024, HOT)]  # ours again, with twice its worker processes


def runs(
    ours: str, baseline: str, seconds: int, books: Callable[[], dict], base_books: Callable[[], dict], lag: Callable
) -> tuple[list[dict], list[dict]]:
    """Every load on ours, then on the baseline."""
    mine, theirs = [], []
    for load in LOADS:
        mine.append(load_run(ours, seconds, books, load, lag, idle=(baseline,)))
        show("ours", mine[-1])
        theirs.append(load_run(baseline, seconds, base_books, load, idle=(ours,)))
        show("baseline", theirs[-1])
    return mine, theirs


def doubled(url: str, seconds: int, books: Callable[[], dict], lag: Callable, workers: int) -> list[dict]:
    results = [load_run(url, seconds, books, load, lag) for load in DOUBLED]
    for result in results:
        show(f"ours x{workers}", result)
    return results


def measure_lag(ledger: BookingLedger, follower: Projector, stop: threading.Event, samples: list) -> None:
    """Time from an event being the store's head to its row being in the read tables."""
    while not stop.is_set():
        started, head = time.perf_counter(), ledger.recorder.max_notification_id() or 0
        while follower.position < head and not stop.is_set():
            time.sleep(0.005)
        samples.append((time.perf_counter() - started) * 1000)
        stop.wait(0.05)


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


def show(name: str, result: dict) -> None:
    print(
        f"  {name:<9} {result['connections']:>4} conn {result['tiers']:<18} {result['rps']:7.0f}/s "
        f"p95 {result['latency_ms']['p95']:6.1f} ms errors {sum(result['errors'].values())} "
        f"(host check {result['host_ms']} ms)",
        flush=True,
    )


def sellout(url: str, books, idle: str) -> dict:
    wait_idle(url, idle)
    result = wrk.run_wrk(url + "/api/tickets/book", 256, 5, env={"BENCH_TIERS": "SELLOUT"})
    result["books"] = books()["SELLOUT"]
    return result


def table(ours: dict, base: dict) -> list[str]:
    lines = [
        "| connections | tiers | ours workers | ours bookings/s | ours p50/p95/p99 ms | baseline bookings/s | "
        "baseline p50/p95/p99 ms | ours/baseline | errors (ours, baseline) | books balance | "
        "projection lag p50/p95 ms | host check ms (ours, baseline) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    baseline_at = {(b["connections"], b["tiers"]): b for b in base["runs"]}
    workers = len(ours.get("worker_rss_mb", [])) or 2
    rows = [(o, workers) for o in ours["runs"]] + [(o, 2 * workers) for o in ours.get("doubled", [])]
    for o, n in rows:
        b = baseline_at[(o["connections"], o["tiers"])]
        balanced = all(t["ok"] for t in o["books"].values()) and all(t["ok"] for t in b["books"].values())
        lag = o["lag_ms"] or {}
        lines.append(
            f"| {o['connections']:,} | {'hot' if o['tiers'] == HOT else 'three'} | {n} | {o['rps']:,.0f} | "
            f"{latencies(o)} | {b['rps']:,.0f} | {latencies(b)} | {ratio(o, b)} | "
            f"{errors(o)}, {errors(b)} | {'yes' if balanced else 'NO'} | {lag.get('p50')}/{lag.get('p95')} | "
            f"{o['host_ms']}, {b['host_ms']} |"
        )
    for name, side in (("ours", ours), ("baseline", base)):
        s = side["sellout"]
        lines.append(
            f"\nsell-out of 3,000 at 256 connections, {name}: statuses {s['statuses']}, "
            f"p99 {s['latency_ms']['p99']:.0f} ms, books {s['books']}"
        )
    return lines


def ratio(ours: dict, baseline: dict) -> str:
    """Ours over the baseline's bookings/s; a dash when the baseline answered nothing."""
    return f"{ours['rps'] / baseline['rps']:.2f}×" if baseline["rps"] else "—"


def errors(run: dict) -> int:
    """Connection errors and timeouts (wrk's own 2 s), and every answer but 201."""
    return sum(run["errors"].values()) + sum(n for status, n in run["statuses"].items() if status != "201")
