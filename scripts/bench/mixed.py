"""A sale as it really is: bookings of a hot tier among the people who only look.

Each run books one hot tier at 16 connections (wrk, ``book.lua``) while, at the same time,
- N other connections read ``GET /api/tickets`` as fast as they are answered (wrk), or
- 1,000 browsers follow the tier list: ours over its live stream (``/api/tickets/stream``),
  the baseline, which has none, by polling ``/api/tickets`` every 2 s as our page does
  when it cannot stream (``streams.py``).
The bookings' rate and latency, and the reads' rate, are what the table shows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from scripts.bench import streams, wrk
from scripts.bench.crowd import LATE_SECONDS, Crowd
from scripts.bench.kit import latencies

BOOKERS = 16
READERS = (0, 64, 256, 1024)
FOLLOWERS = 1000
CROWDS = (2000, 8000)  # the part ``streams``: followers of the origin alone


def with_readers(url: str, readers: int, seconds: int, tier: str) -> dict[str, Any]:
    """Bookings at ``BOOKERS`` connections beside ``readers`` connections reading the tier list."""
    loads: dict[str, Callable[[], dict]] = {
        "bookings": lambda: wrk.run_wrk(
            url + "/api/tickets/book", BOOKERS, seconds, threads=1, env={"BENCH_TIERS": tier}
        )
    }
    if readers:
        loads["reads"] = lambda: wrk.run_wrk(
            url + "/api/tickets", readers, seconds, threads=1, env={"BENCH_BODY_MODE": "none"}
        )
    return {"readers": readers, **side_by_side(loads)}


def with_followers(url: str, streaming: bool, seconds: int, tier: str) -> dict[str, Any]:
    """Bookings at ``BOOKERS`` connections while ``FOLLOWERS`` browsers follow the tier list."""
    follow = streams.follow_stream if streaming else streams.poll_list
    return {
        "followers": FOLLOWERS,
        "streaming": streaming,
        **side_by_side(
            {
                "bookings": lambda: wrk.run_wrk(
                    url + "/api/tickets/book", BOOKERS, seconds, threads=1, env={"BENCH_TIERS": tier}
                ),
                "follow": lambda: follow(url, FOLLOWERS, seconds),
            }
        ),
    }


def side_by_side(loads: dict[str, Callable[[], dict]]) -> dict[str, dict]:
    """Run every load at once; their results by name."""
    results: dict[str, dict] = {}
    threads = [
        threading.Thread(target=lambda n=name, f=load: results.__setitem__(n, f())) for name, load in loads.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    missing = set(loads) - set(results)
    if missing:
        raise RuntimeError(f"load(s) {sorted(missing)} failed; see the output above")
    return results


def runs(ours: str, baseline: str, seconds: int, tier: str, idle: Callable[..., None]) -> dict[str, list[dict]]:
    """Every mixed load on ours, then on the baseline, each once both servers are idle."""
    results: dict[str, list[dict]] = {"ours": [], "baseline": []}
    loads = [
        *(lambda url, n=n: with_readers(url, n, seconds, tier) for n in READERS),
        lambda url: with_followers(url, url == ours, seconds, tier),
    ]
    for load in loads:
        for name, url in (("ours", ours), ("baseline", baseline)):
            idle(ours, baseline)
            results[name].append(load(url))
            show(name, results[name][-1])
    return results


def with_crowd(
    url: str, streaming: bool, seconds: int, tier: str, followers: int, follow_url: str | None = None
) -> dict[str, Any]:
    """Bookings at ``BOOKERS`` connections beside ``followers`` browsers: streaming (from
    ``follow_url``, an edge in front of ``url``, if given), measured once all are open, or
    polling every 2 s; with none, bookings alone."""
    if not followers:
        return with_readers(url, 0, seconds, tier)
    if not streaming:
        polling = side_by_side(
            {"bookings": lambda: book(url, seconds, tier), "follow": lambda: streams.poll_list(url, followers, seconds)}
        )
        return {"followers": followers, "streaming": False, **polling}
    with Crowd((follow_url or url) + "/api/tickets/stream", followers) as crowd:
        crowd.measure()
        booked = book(url, seconds, tier)
        return {"followers": followers, "streaming": True, "bookings": booked, "follow": crowd.finish()}


def book(url: str, seconds: int, tier: str) -> dict[str, Any]:
    return wrk.run_wrk(url + "/api/tickets/book", BOOKERS, seconds, threads=1, env={"BENCH_TIERS": tier})


def crowd_runs(ours: str, baseline: str, seconds: int, tier: str, idle: Callable[..., None]) -> dict[str, list[dict]]:
    """Bookings beside no follower, then beside each of ``CROWDS`` (ours streaming, the
    baseline polling), on ours and then on the baseline, each once both servers are idle."""
    results: dict[str, list[dict]] = {"ours": [], "baseline": []}
    for followers in (0, *CROWDS):
        for name, url in (("ours", ours), ("baseline", baseline)):
            idle(ours, baseline)
            run = with_crowd(url, url == ours, seconds, tier, followers)
            results[name].append(run)
            show(name, run)
    return results


def label(run: dict) -> str:
    if "readers" in run:
        return f"16 booking, {run['readers']:,} reading /api/tickets"
    return f"16 booking, {run['followers']:,} following the list"


def show(name: str, run: dict) -> None:
    booked = run["bookings"]
    print(
        f"  {name:<9} {label(run):<40} {booked['rps']:7.0f} bookings/s p95 {booked['latency_ms']['p95']:7.1f} ms "
        f"{reads_per_second(run):7.0f} reads/s{fed(run)}",
        flush=True,
    )


def fed(run: dict) -> str:
    """How promptly a stream's followers were fed: waits for news over a second, the longest."""
    follow = run.get("follow", {})
    if not run.get("streaming"):
        return ""
    if "longest_wait" not in follow:
        return ""
    return (
        f", {follow.get('late', 0)} waits > {LATE_SECONDS:.0f} s, longest {follow['longest_wait']} s, "
        f"{follow['opened']:,} open after {follow['ramp_seconds']} s"
    )


def crowd_table(ours: list[dict], baseline: list[dict]) -> list[str]:
    """The part ``streams``: each side's bookings beside its followers, against its own rate with none."""
    lines = [
        "| followers | ours bookings/s (× alone) | ours p95 ms | baseline bookings/s (× alone) | baseline p95 ms | "
        "ours' streams: events/s, waits > 1 s, longest wait | errors (ours, baseline) |",
        "|---|---|---|---|---|---|---|",
    ]
    alone = ours[0]["bookings"]["rps"] or 1, baseline[0]["bookings"]["rps"] or 1
    for o, b in zip(ours, baseline, strict=True):
        follow = o.get("follow", {})
        stream = (
            f"{reads_per_second(o):,.0f}, {follow.get('late', 0)}, {follow.get('longest_wait', 0)} s "
            f"({follow.get('opened', 0):,} open)"
            if follow
            else "—"
        )
        lines.append(
            f"| {o.get('followers', 0):,} | {o['bookings']['rps']:,.0f} ({o['bookings']['rps'] / alone[0]:.2f}×) | "
            f"{o['bookings']['latency_ms']['p95']:.0f} | "
            f"{b['bookings']['rps']:,.0f} ({b['bookings']['rps'] / alone[1]:.2f}×) | "
            f"{b['bookings']['latency_ms']['p95']:.0f} | {stream} | {errors(o)}, {errors(b)} |"
        )
    lines.append("\nOurs' followers stream `/api/tickets/stream`; the baseline's, which has no stream, poll every 2 s.")
    return lines


def reads_per_second(run: dict) -> float:
    """The tier lists served a second: answers to reads or polls, or events of the streams."""
    if "reads" in run:
        return run["reads"]["rps"]
    if "follow" not in run:
        return 0.0
    follow = run["follow"]
    served = (
        follow.get("events", 0)
        if run["streaming"]
        else sum(n for key, n in follow.items() if key.startswith("status "))
    )
    return served / follow["seconds"]


def table(ours: list[dict], baseline: list[dict]) -> list[str]:
    lines = [
        "| load | ours bookings/s | ours p50/p95/p99 ms | baseline bookings/s | baseline p50/p95/p99 ms | "
        "ours/baseline | reads/s (ours, baseline) | errors (ours, baseline) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o, b in zip(ours, baseline, strict=True):
        ratio = f"{o['bookings']['rps'] / b['bookings']['rps']:.2f}×" if b["bookings"]["rps"] else "—"
        lines.append(
            f"| {label(o)} | {o['bookings']['rps']:,.0f} | {latencies(o['bookings'])} | "
            f"{b['bookings']['rps']:,.0f} | {latencies(b['bookings'])} | {ratio} | "
            f"{reads_per_second(o):,.0f}, {reads_per_second(b):,.0f} | {errors(o)}, {errors(b)} |"
        )
    lines.append(
        "\nReads: wrk's answers to `GET /api/tickets`; following: ours counts the stream's events "
        "(the list changes several times a second during the run), the baseline, which has no stream, "
        "its answers to a poll every 2 s."
    )
    return lines


def errors(run: dict) -> int:
    """Connection errors and timeouts of every load, and every booking answer but 201."""
    booked = run["bookings"]
    count = sum(booked["errors"].values()) + sum(n for status, n in booked["statuses"].items() if status != "201")
    count += sum(run["reads"]["errors"].values()) if "reads" in run else run.get("follow", {}).get("errors", 0)
    return count
