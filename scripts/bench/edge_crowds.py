"""Bookings on the origin beside thousands of followers through the edge (part ``streams``).

The edge (scripts/edge/: nginx with nchan) runs on 127.0.5.2 in front of ours, the
publisher beside it; the bookings go to the origin as before, the followers open the
edge's ``/api/tickets/stream``. The rate with no follower, measured in the same run, is
what the others are compared with.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scripts.bench import mixed
from scripts.bench.kit import latencies
from scripts.edge.config import Edge
from scripts.edge.publisher import Publisher
from scripts.harness.processes import free_port

EDGE_HOST = "127.0.5.2"


def runs(ours: str, seconds: int, tier: str, idle: Callable[..., None]) -> list[dict[str, Any]]:
    """Bookings alone, then beside each of ``mixed.CROWDS`` following through the edge."""
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as folder:
        edge = Edge(
            Path(folder),
            listen=f"{EDGE_HOST}:{free_port()}",
            publish_listen=f"{EDGE_HOST}:{free_port()}",
            origins=[ours.removeprefix("http://")],
        ).start()
        halt = threading.Event()
        publisher = Publisher([ours], [f"http://{edge.publish_listen}/publish/tiers"])
        thread = threading.Thread(target=publisher.run, args=(halt,), daemon=True)
        thread.start()
        results = []
        try:
            for followers in (0, *mixed.CROWDS):
                idle(ours)
                run = mixed.with_crowd(ours, True, seconds, tier, followers, f"http://{edge.listen}")
                results.append(run)
                mixed.show("edge", run)
        finally:
            halt.set()
            thread.join(timeout=10)
            edge.stop()
    return results


def table(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| followers through the edge | bookings/s (× alone) | p50/p95/p99 ms | "
        "streams: events/s, waits > 1 s, longest wait | errors |",
        "|---|---|---|---|---|",
    ]
    alone = runs[0]["bookings"]["rps"] or 1
    for run in runs:
        follow = run.get("follow")
        stream = (
            f"{mixed.reads_per_second(run):,.0f}, {follow.get('late', 0)}, {follow['longest_wait']} s"
            if follow
            else "—"
        )
        lines.append(
            f"| {run.get('followers', 0):,} | {run['bookings']['rps']:,.0f} ({run['bookings']['rps'] / alone:.2f}×) | "
            f"{latencies(run['bookings'])} | {stream} | {mixed.errors(run)} |"
        )
    return lines
