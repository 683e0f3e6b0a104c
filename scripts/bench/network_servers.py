"""The servers of the network part (``network.py``): the delaying proxy for one RTT, and
both designs on fresh schemas of their own, reaching PostgreSQL through it."""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from application import BookingLedger
from projections import Projector, open_view
from scripts.bench import baseline_app
from scripts.bench.kit import (
    HERE,
    OURS_ENV,
    OURS_WORKERS,
    PG,
    Server,
    connect,
    cpu_seconds,
    fresh_schema,
    our_books,
    process_stats,
    read_stat,
)
from scripts.harness import delay_proxy
from scripts.harness.processes import scrape

PROXY_PORTS = {"ours": 15432, "ours_projections": 15433, "baseline": 15434}
STATS_PORT = 15439
SCHEMAS = {"ours": "bench_net_ours", "baseline": "bench_net_baseline"}
CAPACITY = 10_000_000


class Proxy:
    """The delaying proxy for one RTT (or none): where each side connects, and its counts."""

    def __init__(self, rtt_ms: float | None) -> None:
        """``rtt_ms`` None: no proxy, PostgreSQL over loopback."""
        self.rtt_ms = rtt_ms
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Proxy:
        if self.rtt_ms is not None:
            self.proc = delay_proxy.start(
                self.rtt_ms,
                f"{PG['POSTGRES_HOST']}:{PG['POSTGRES_PORT']}",
                [f"127.0.0.1:{port}" for port in PROXY_PORTS.values()],
                f"127.0.0.1:{STATS_PORT}",
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)

    def env(self, side: str) -> dict[str, str]:
        """``POSTGRES_*`` for a side: through its own port of the proxy."""
        if self.rtt_ms is None:
            return dict(PG)
        return {**PG, "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(PROXY_PORTS[side])}

    def round_trips(self) -> dict[str, int]:
        """Round trips so far, by side (empty without a proxy)."""
        if not self.proc:
            return {}
        with socket.create_connection(("127.0.0.1", STATS_PORT), timeout=5) as conn:
            counts = json.loads(conn.makefile().readline())
        by_port = {f"127.0.0.1:{port}": side for side, port in PROXY_PORTS.items()}
        return {by_port[listen]: c["round_trips"] for listen, c in counts.items()}

    def measured_rtt_ms(self) -> float:
        """Median ``SELECT 1`` time through the proxy (over loopback without one)."""
        with connect(self.env("baseline")) as conn:
            times = []
            for _ in range(200 if (self.rtt_ms or 0) < 10 else 20):  # 20 × 50 ms is long enough
                started = time.perf_counter()
                conn.execute("SELECT 1").fetchone()
                times.append((time.perf_counter() - started) * 1000)
        return round(statistics.median(times), 2)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process so far."""
    stat = read_stat(Path(f"/proc/{pid}/stat"))
    if stat is None:
        raise ProcessLookupError(pid)
    return stat.cpu


def postgres_cpu() -> float:
    """CPU seconds so far of every PostgreSQL process on this host."""
    return sum(stat.cpu for stat in process_stats() if stat.name == "postgres")


def batches(url: str) -> float:
    """Group-commit batches so far, summed over the workers (ours only)."""
    for line in scrape(url + "/metrics").splitlines():
        if line.startswith("ledger_batch_size_count"):
            return float(line.split()[-1])
    return 0.0


class Side:
    """One design as a run sees it: its server's URL, its processes, its proxy port(s)."""

    def __init__(self, name: str, url: str, master: int, projector: int | None = None) -> None:
        self.name, self.url, self.master, self.projector = name, url, master, projector

    def snapshot(self, proxy: Proxy) -> dict[str, float]:
        now = {"workers_cpu": cpu_seconds(self.master), "postgres_cpu": postgres_cpu()}
        if self.projector:
            now["projections_cpu"] = process_cpu(self.projector)
            now["batches"] = batches(self.url)
        if proxy.proc:
            now["proxy_cpu"] = process_cpu(proxy.proc.pid)
            for side, trips in proxy.round_trips().items():
                if side.startswith(self.name):
                    now[f"{side}_round_trips"] = trips
        return now


@contextmanager
def both_sides(proxy: Proxy) -> Iterator[tuple[Side, Side, Callable[[], dict]]]:
    """Ours (its workers and its projection process each on their own port of the proxy) and
    the baseline, each on a fresh schema with one hot tier; and how to check both books."""
    for schema in SCHEMAS.values():
        fresh_schema(schema)
    ours_env = {**OURS_ENV, "POSTGRES_SCHEMA": SCHEMAS["ours"], "DEMO_TIERS": f"VIP:100.00:{CAPACITY}"}
    base_env = {**proxy.env("baseline"), "POSTGRES_SCHEMA": SCHEMAS["baseline"], "POSTGRES_POOL_SIZE": "4"}
    baseline_app.seed(None, SCHEMAS["baseline"], {"VIP": CAPACITY})
    with (
        Server(None, {**ours_env, **proxy.env("ours")}, 8441, OURS_WORKERS) as ours,
        Server("baseline_app:create_app()", base_env, 8442, 4, 4, HERE) as base,
        BookingLedger(env={**ours_env, "POSTGRES_POOL_SIZE": "2"}) as ledger,
    ):
        ours.with_projections({**ours_env, **proxy.env("ours_projections")})
        follower = Projector(ledger, open_view(ledger))

        def books() -> dict:
            return {"ours": our_books(ledger, follower), "baseline": baseline_app.check(SCHEMAS["baseline"])}

        assert ours.projector is not None
        yield (
            Side("ours", ours.url, ours.proc.pid, ours.projector.pid),
            Side("baseline", base.url, base.proc.pid),
            books,
        )
