"""What every benchmark shares: where the checkout is; the PostgreSQL they run against
(``POSTGRES_*``, default 127.0.0.1:5432 user postgres, database test), each in schemas of
its own; our server and the baseline as they run; and how to tell when a run may start
and whether the books balance after it."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from application import BookingLedger
from domain.bookings import BookingStatus
from projections import Projector
from scripts.bench import wrk
from scripts.harness.processes import children

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # /proc's unit of CPU time

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PG = {
    k: os.environ.get(k, d)
    for k, d in [
        ("POSTGRES_HOST", "127.0.0.1"),
        ("POSTGRES_PORT", "5432"),
        ("POSTGRES_DBNAME", "test"),
        ("POSTGRES_USER", "postgres"),
        ("POSTGRES_PASSWORD", ""),
    ]
}
# Ours runs with the project's own gunicorn settings (web/server/gunicorn_settings.py: 2
# gevent workers on PostgreSQL), JSON logs, metrics and security headers on; the baseline
# with 4 gthread workers x 4 threads, the setting its numbers were quoted for.
OURS_WORKERS = 2
OURS_ENV = {
    **PG,
    "PERSISTENCE_MODULE": "eventsourcing.postgres",
    "POSTGRES_SCHEMA": "bench_ours",
    "POSTGRES_POOL_SIZE": "8",
    "GUNICORN_ACCESSLOG": "",
    "BOOKING_RATE_LIMIT": "",
}


def connect(settings: dict[str, str] = PG) -> psycopg.Connection:
    """An autocommit connection from ``POSTGRES_*`` settings (default: the benchmarks' PostgreSQL)."""
    return psycopg.connect(
        host=settings["POSTGRES_HOST"],
        port=settings["POSTGRES_PORT"],
        dbname=settings["POSTGRES_DBNAME"],
        user=settings["POSTGRES_USER"],
        password=settings["POSTGRES_PASSWORD"],
        autocommit=True,
    )


def fresh_schema(name: str) -> None:
    """Drop the schema ``name`` with all it holds, and create it empty."""
    with connect() as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{name}"')


class Server:
    """A gunicorn server (and, for ours, the projection process) for the duration of a block:
    the baseline's app with the given workers and threads, or (``app_spec`` None) ours with
    the project's own settings."""

    def __init__(
        self, app_spec: str | None, env: dict, port: int, workers: int, threads: int = 1, cwd: Path = ROOT
    ) -> None:
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

    def with_projections(self, env: dict[str, str] = OURS_ENV) -> Server:
        self.projector = subprocess.Popen(
            [sys.executable, "-m", "projections"], cwd=ROOT, env=os.environ | env, stderr=subprocess.DEVNULL
        )
        return self

    def __exit__(self, *exc: object) -> None:
        wrk.stop(self.proc)
        if self.projector:
            self.projector.terminate()
            self.projector.wait(30)


def our_books(ledger: BookingLedger, follower: Projector) -> dict:
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
        if booking.status == BookingStatus.CONFIRMED:
            confirmed[booking.tier] = confirmed.get(booking.tier, 0) + booking.quantity
    books = {}
    for row in view.list_tiers():
        sold = ledger.get_tier(row.tier).sold
        books[row.tier] = {
            "sold": sold,
            "confirmed": confirmed.get(row.tier, 0),
            "projected_sold": row.sold,
            "capacity_minus_available": row.capacity - row.available,
            "ok": sold == confirmed.get(row.tier, 0) == row.sold == row.capacity - row.available,
        }
    return books


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def host_check_ms() -> float:
    """Milliseconds this host takes for a fixed piece of pure Python (best of 3), just
    before a run: its speed changes from minute to minute, and a row whose two runs saw
    different speeds has a ratio to distrust."""

    def once() -> float:
        started = time.perf_counter()
        sum(i * i for i in range(300_000))
        return (time.perf_counter() - started) * 1000

    return round(min(once() for _ in range(3)), 1)


def percentiles(samples: list[float]) -> dict:
    q = statistics.quantiles(samples, n=100) if len(samples) > 1 else samples * 99
    return {"p50": round(q[49], 1), "p95": round(q[94], 1), "n": len(samples)}


def wait_idle(*urls: str) -> None:
    """Until every one of these servers has worked off what earlier runs left it."""
    for url in urls:
        wrk.wait_idle(url + "/health")


def latencies(run: dict) -> str:
    """A wrk run's p50/p95/p99 in milliseconds."""
    return "/".join(f"{run['latency_ms'][p]:,.0f}" for p in ("p50", "p95", "p99"))


@dataclass(frozen=True)
class ProcStat:
    """What /proc/<pid>/stat says of a process: its name, parent, and CPU seconds so far (user + system)."""

    pid: int
    name: str
    ppid: int
    cpu: float


def read_stat(path: Path) -> ProcStat | None:
    """One process's stat; None if it is gone."""
    try:
        text = path.read_text()
    except OSError:
        return None
    name, rest = text.split("(", 1)[1].rsplit(")", 1)
    fields = rest.split()
    return ProcStat(int(path.parent.name), name, int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)


def process_stats() -> Iterator[ProcStat]:
    """Every process on this host that is still there."""
    for path in Path("/proc").glob("[0-9]*/stat"):
        if (stat := read_stat(path)) is not None:
            yield stat


def cpu_seconds(parent: int) -> float:
    """CPU seconds used so far by the children of process ``parent`` (the gunicorn workers)."""
    return sum(stat.cpu for stat in process_stats() if stat.ppid == parent)


def raise_file_limit() -> int:
    """As many descriptors as the hard limit allows: every pooled connection takes one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def renice(master: subprocess.Popen, niceness: int) -> None:
    """Lower the CPU priority of a gunicorn master and its workers."""
    for stat in process_stats():
        if master.pid in (stat.pid, stat.ppid):
            os.setpriority(os.PRIO_PROCESS, stat.pid, niceness)
