"""The database across a network: the hot tier at RTT 0, 1 and 2 ms, ours and the baseline.

At each RTT (0, 1, 2 ms) both designs reach PostgreSQL through the same delaying proxy
(``scripts/harness/delay_proxy.py``), and once more directly over loopback; the round trip
is measured with ``SELECT 1`` before the runs and shown. Each load (16, 64, 256 connections
of wrk booking one hot tier) runs on ours, then on the baseline. Per run, from the proxy and from /proc:
- the round trips to PostgreSQL per booking (ours: its workers' and its projection
  process's apart) and per group-commit batch (ours' ``ledger_batch_size`` from /metrics);
- CPU per booking of every process: the web workers, ours' projection process,
  PostgreSQL (all its processes: the host must be quiet), and the proxy.
Then each design at 50 % and 80 % of its own best rate at that RTT, sent open-loop
(``open_loop.py``): latency as a buyer sees it, not the queue of a closed loop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from scripts.bench import wrk
from scripts.bench.kit import ROOT, host_check_ms, latencies, wait_idle
from scripts.bench.network_servers import Proxy, Side, both_sides

RTTS = (None, 0, 1, 2)  # None: over loopback, no proxy
CONNECTIONS = (16, 64, 256)
# A web host in another region than the primary (docs/production.md, "Far regions"): the
# seed's booking p95 of 500 ms must hold there, at 50× the row-lock design's rate.
FAR_RTTS = (20, 50)
FAR_CONNECTIONS = (16, 64)
OPEN_LOOP_SHARES = (0.5, 0.8)
TIER = "VIP"


@contextmanager
def counted(side: Side, proxy: Proxy) -> Iterator[dict]:
    """What a run cost: CPU seconds by process kind, round trips by side, batches."""
    before = side.snapshot(proxy)
    cost: dict = {}
    yield cost
    after = side.snapshot(proxy)
    cost.update({key: after[key] - before[key] for key in after})


def closed_loop(side: Side, proxy: Proxy, connections: int, seconds: int, idle: str) -> dict:
    wait_idle(side.url, idle)
    host_ms = host_check_ms()
    with counted(side, proxy) as cost:
        # wrk's own 2 s timeout would drop the row-lock design's bookings far away, which
        # queue for seconds and are made all the same: each is waited for.
        result = wrk.run_wrk(
            side.url + "/api/tickets/book", connections, seconds, env={"BENCH_TIERS": TIER}, timeout=60
        )
    booked = result["statuses"].get("201", 0)
    result.update(
        cost=per_booking(cost, booked),
        host_ms=host_ms,
        booked_rps=booked / (result["duration_us"] / 1e6),
        load=os.getloadavg()[0],  # the machine is shared: what else ran meanwhile
    )
    return result


def open_loop(side: Side, rate: float, seconds: int, idle: str) -> dict:
    wait_idle(side.url, idle)
    client = subprocess.run(
        [sys.executable, "-m", "scripts.bench.open_loop", side.url, "--rate", f"{rate:.0f}"]
        + ["--seconds", str(seconds), "--tier", TIER],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    if client.returncode:
        raise RuntimeError(f"open loop failed: {client.stderr}")
    return json.loads(client.stdout.splitlines()[-1])


def per_booking(cost: dict, booked: int) -> dict:
    """Each cost over the bookings: CPU in ms per booking, round trips per booking and per batch."""
    if not booked:
        return {}
    out = {key.removesuffix("_cpu") + "_ms": round(v * 1000 / booked, 3) for key, v in cost.items() if "_cpu" in key}
    out["all_ms"] = round(sum(v for k, v in out.items() if k != "proxy_ms"), 3)
    for key, v in cost.items():
        if key.endswith("_round_trips"):
            out[key] = round(v / booked, 2)
            if cost.get("batches") and key == "ours_round_trips":
                out["ours_round_trips_per_batch"] = round(v / cost["batches"], 1)
    if cost.get("batches"):
        out["bookings_per_batch"] = round(booked / cost["batches"], 1)
    return out


def runs(seconds: int) -> list[dict]:
    return [runs_at(rtt_ms, seconds) for rtt_ms in RTTS]


def far_runs(seconds: int) -> list[dict]:
    """A web host in a far region (part ``far``): closed loops only, ours and the baseline."""
    return [runs_at(rtt_ms, seconds, FAR_CONNECTIONS, open_loops=False) for rtt_ms in FAR_RTTS]


def runs_at(
    rtt_ms: float | None, seconds: int, connections_run: tuple[int, ...] = CONNECTIONS, open_loops: bool = True
) -> dict:
    """Every load at one RTT: closed loops on both sides, then open loops at shares of each one's best."""
    with Proxy(rtt_ms) as proxy, both_sides(proxy) as (ours, base, books):
        result: dict = {"rtt_ms": rtt_ms, "measured_rtt_ms": proxy.measured_rtt_ms(), "ours": [], "baseline": []}
        print(f"{where(rtt_ms)}: SELECT 1 takes {result['measured_rtt_ms']} ms", flush=True)
        for connections in connections_run:
            for side, other, runs in ((ours, base, result["ours"]), (base, ours, result["baseline"])):
                runs.append(closed_loop(side, proxy, connections, seconds, other.url))
                show(side.name, where(rtt_ms), runs[-1])
        for side, other in ((ours, base), (base, ours)) if open_loops else ():
            best = max(run["rps"] for run in result[side.name])
            result[f"{side.name}_open"] = [
                open_loop(side, share * best, seconds, other.url) for share in OPEN_LOOP_SHARES
            ]
            for share, run in zip(OPEN_LOOP_SHARES, result[f"{side.name}_open"], strict=True):
                print(f"  {side.name:<9} open loop {share:.0%} of {best:.0f}/s: {run}", flush=True)
        result["books"] = books()
    return result


def where(rtt_ms: float | None) -> str:
    return "loopback" if rtt_ms is None else f"RTT {rtt_ms:g} ms"


def show(name: str, at: str, run: dict) -> None:
    print(
        f"  {name:<9} {at} {run['connections']:>4} conn {run['rps']:7.0f}/s "
        f"p95 {run['latency_ms']['p95']:6.1f} ms cost {run['cost']} (host check {run['host_ms']} ms)",
        flush=True,
    )


def table(results: list[dict]) -> list[str]:
    lines = [
        "| PostgreSQL (SELECT 1) | connections | ours bookings/s | ours p50/p95/p99 ms | baseline bookings/s | "
        "baseline p50/p95/p99 ms | ours/baseline | round trips per booking (ours workers, projections; baseline) | "
        "ours round trips per batch (bookings per batch) | CPU ms per booking, all processes (ours, baseline) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for at in results:
        for o, b in zip(at["ours"], at["baseline"], strict=True):
            oc, bc = o["cost"], b["cost"]
            trips = (
                f"{oc.get('ours_round_trips', '—')}, {oc.get('ours_projections_round_trips', '—')}; "
                f"{bc.get('baseline_round_trips', '—')}"
            )
            ratio = f"{o['rps'] / b['rps']:.2f}×" if b["rps"] else "—"
            lines.append(
                f"| {where(at['rtt_ms'])} ({at['measured_rtt_ms']} ms) | {o['connections']} | {o['rps']:,.0f} | "
                f"{latencies(o)} | {b['rps']:,.0f} | {latencies(b)} | {ratio} | {trips} | "
                f"{oc.get('ours_round_trips_per_batch', '—')} ({oc.get('bookings_per_batch', '—')}) | "
                f"{oc.get('all_ms', '—')}, {bc.get('all_ms', '—')} |"
            )
    lines += [
        "",
        "CPU per booking by process (ms): ours workers / projection process / PostgreSQL; baseline "
        "workers / PostgreSQL; the proxy apart (it stands for the network):",
        "",
    ]
    for at in results:
        for o, b in zip(at["ours"], at["baseline"], strict=True):
            oc, bc = o["cost"], b["cost"]
            lines.append(
                f"- {where(at['rtt_ms'])}, {o['connections']} connections: ours {oc.get('workers_ms')} / "
                f"{oc.get('projections_ms')} / {oc.get('postgres_ms')}; baseline {bc.get('workers_ms')} / "
                f"{bc.get('postgres_ms')}; proxy {oc.get('proxy_ms', '—')}, {bc.get('proxy_ms', '—')}"
            )
    lines += [
        "",
        "Open loop (requests sent at a fixed rate; latency from when each was due):",
        "",
        "| RTT | design | rate asked (share of its best) | achieved bookings/s | p50/p95/p99/max ms | not 201 |",
        "|---|---|---|---|---|---|",
    ]
    for at in results:
        for name in ("ours", "baseline"):
            for share, run in zip(OPEN_LOOP_SHARES, at[f"{name}_open"], strict=True):
                q = run["latency_ms"]
                other = sum(n for status, n in run["statuses"].items() if status != "201") + run["errors"]
                lines.append(
                    f"| {where(at['rtt_ms'])} | {name} | {run['rate']:,.0f} ({share:.0%}) | {run['achieved']:,.0f} | "
                    f"{q['p50']:,.0f}/{q['p95']:,.0f}/{q['p99']:,.0f}/{q['max']:,.0f} | {other} |"
                )
    return lines


def far_table(results: list[dict]) -> list[str]:
    """The part ``far``: bookings answered 201 per second (a 503 is not a sale), latency, the
    ratio, round trips, and the load average (1 min) after each run."""
    lines = [
        "| PostgreSQL (SELECT 1) | connections | ours bookings/s | ours p50/p95/p99 ms | baseline bookings/s | "
        "baseline p50/p95/p99 ms | ours/baseline | ours round trips per batch (bookings per batch); baseline "
        "per booking | not 201 (ours, baseline) | load average (ours, baseline) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for at in results:
        for o, b in zip(at["ours"], at["baseline"], strict=True):
            oc, bc = o["cost"], b["cost"]
            ratio = f"{o['booked_rps'] / b['booked_rps']:.0f}×" if b["booked_rps"] else "—"
            lines.append(
                f"| {where(at['rtt_ms'])} ({at['measured_rtt_ms']} ms) | {o['connections']} | "
                f"{o['booked_rps']:,.0f} | {latencies(o)} | {b['booked_rps']:,.1f} | {latencies(b)} | {ratio} | "
                f"{oc.get('ours_round_trips_per_batch', '—')} ({oc.get('bookings_per_batch', '—')}); "
                f"{bc.get('baseline_round_trips', '—')} | {not_booked(o)}, {not_booked(b)} | "
                f"{o['load']:.1f}, {b['load']:.1f} |"
            )
    return lines


def not_booked(run: dict) -> int:
    """Requests of a run that were not answered 201: other statuses, and wrk's errors (timeouts)."""
    errors = sum(n for kind, n in run["errors"].items() if kind != "status")  # "status": the statuses again
    return sum(n for status, n in run["statuses"].items() if status != "201") + errors
