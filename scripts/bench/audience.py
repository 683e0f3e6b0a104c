"""The audience: 1,000 to 50,000 people at once, each living a browser's life, against the origin
alone, through an edge, and against the row-locking baseline.

    ticketledger bench --parts audience --users 1000,10000
    python -m scripts.bench.audience --users 1000 --modes origin,baseline
    python -m scripts.bench.audience --users 50000 --modes origin,edge --room --room-follow frontier

Each run starts the origin as the README runs it (``ticketledger serve`` + ``ticketledger
projections`` on PostgreSQL, a fresh schema; ``scripts/bench/onsale_servers.py``), the
waiting room on when asked, and a client of several worker processes
(``scripts/bench/audience_users.py``), each from loopback source addresses of its own
(127.0.20.x upwards: a process may hold at most 20,000 open files here, and a pair of
addresses gives about 28,000 ports). The timeline is the same whatever the size, so that
the origin's CPU per second compares: the users arrive evenly over ``--arrive`` seconds,
then the buyers (the same number at every size) book over ``--sale`` seconds, then
everyone keeps following for ``--settle`` seconds. Afterwards the books are read from the
store and the read tables, never from what the clients believe, and the tallies are
merged (``scripts/bench/audience_tally.py``). Modes:
- ``origin``: everything from the origin, availability over its ``/api/tickets/stream``;
- ``edge``: everything through the project's edge (nginx + nchan, started here in front of
  the origin, with its publisher), or through one given (``--edge``, its stream
  ``--edge-stream``, default its ``/api/tickets/stream``) that proxies to ``--origin-port``;
- ``baseline``: the row-locking design as the seed plans it, followers polling the list
  every 2 s, no page, no edge.
Results: var/bench/audience-<time>.json and a table.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import uvloop

from application import BookingLedger
from projections import Projector, open_view
from scripts.bench import baseline_app
from scripts.bench.audience_tally import merge, summary
from scripts.bench.audience_users import Plan, Tally, run_crowd
from scripts.bench.kit import ROOT, cpu_seconds, our_books, raise_file_limit, read_stat
from scripts.bench.onsale_servers import admin, baseline_server, our_service
from scripts.harness.processes import free_port

TIER = "ONSALE"
STREAM = "/api/tickets/stream"
USERS_PER_WORKER = 6_500  # a stream and a pooled connection each, under the 20,000 files of a process
STREAMS_PER_SOURCE = 12_000  # well under the ~28,000 ports of one pair of addresses
MODES = ("origin", "edge", "baseline")


def sources(worker: int, users: int) -> list[str]:
    """Worker ``worker``'s own loopback source addresses: 127.0.(20 + worker).x."""
    return [f"127.0.{20 + worker}.{n + 1}" for n in range(max(1, -(-2 * users // STREAMS_PER_SOURCE)))]


def worker_main(plan: Plan, users: list[int], addresses: list[str], pipe, go, start, final) -> None:
    """One client process: ready, then at the parent's word its users live; their tally back."""
    raise_file_limit()
    pipe.put(("ready", os.getpid()))
    go.wait()
    figure = lambda: None if final.value < 0 else final.value  # noqa: E731
    bought = lambda: pipe.put(("bought", os.getpid()))  # noqa: E731
    plan = dataclasses.replace(plan, start=start.value)
    pipe.put(("tally", uvloop.run(run_crowd(plan, users, addresses, bought, figure))))


@dataclass
class CrowdRun:
    """A run of the crowd: each process's tally, when it started, the books once every buyer
    was done (read then, before the followers' last word is judged), and the origin's CPU
    seconds at the start, at the sale's end and at the end."""

    tallies: list[Tally]
    start: float
    books: dict
    cpu: list[float]


def run_crowd_processes(
    plan: Plan, workers: int, read_books: Callable[[], dict], meter: Callable[[], float] = lambda: 0.0
) -> CrowdRun:
    """The plan's users across ``workers`` processes started together. Once every buyer is
    done the books are read and their final availability handed to the followers, who end
    as soon as they have heard it."""
    context = multiprocessing.get_context("spawn")
    pipe, go, start, final = context.Queue(), context.Event(), context.Value("d", 0.0), context.Value("i", -1)
    processes = []
    for worker in range(workers):
        users = list(range(worker, plan.users, workers))
        args = (plan, users, sources(worker, len(users)), pipe, go, start, final)
        processes.append(context.Process(target=worker_main, args=args))
        processes[-1].start()
    for _ in processes:
        assert pipe.get(timeout=120)[0] == "ready"
    start.value = time.time() + 1.0
    cpu = [meter()]
    go.set()
    sale_ends_in = start.value + plan.sale_after + plan.sale_seconds - time.time()
    sale_end = threading.Timer(sale_ends_in, lambda: cpu.append(meter()))
    sale_end.start()
    tallies, bought, books = [], 0, None
    while len(tallies) < workers:
        kind, value = pipe.get(timeout=plan.end_after + 600)
        if kind == "bought" and (bought := bought + 1) == workers:
            books = read_books()
            final.value = books["available"]
        elif kind == "tally":
            tallies.append(value)
    sale_end.cancel()
    cpu = [*cpu[:2], meter()] if len(cpu) > 1 else [cpu[0], cpu[0], meter()]
    for process in processes:
        process.join(60)
    assert books is not None
    return CrowdRun(tallies, start.value, books, cpu)


class CpuMeter:
    """CPU seconds of a set of server processes (gunicorn masters' workers, the projection
    process), from /proc, read at marks during a run."""

    def __init__(self, masters: list[int], singles: list[int]) -> None:
        self.masters, self.singles = masters, singles

    def __call__(self) -> float:
        own = sum(stat.cpu for pid in self.singles if (stat := read_stat(Path(f"/proc/{pid}/stat"))))
        return sum(cpu_seconds(master) for master in self.masters) + own


def store_books(env: dict[str, str]) -> dict:
    """The tier as the store and both read tables have it, once the projection caught up."""
    settings = {**env, "POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": "0"}
    with BookingLedger(env=settings) as ledger:
        books = our_books(ledger, Projector(ledger, open_view(ledger)))[TIER]
        tier = ledger.get_tier(TIER)
    return {**books, "capacity": tier.capacity, "available": tier.available}


@dataclass
class Origin:
    """The servers of one run as the run sees them: their address (and the edge's in front of
    them, if any), their CPU, their books and how many requests for queue tickets reached
    them (from their request logs)."""

    base: str
    meter: CpuMeter
    books: Callable[[], dict]
    logs: list[str]
    front: str | None = None  # the edge's address
    edge_meter: CpuMeter | None = None  # nginx's workers and the publisher, when this run started them

    def ticket_requests(self) -> dict[str, int]:
        """Requests for a queue ticket (``GET /api/queue/<id>``), its stream and the room's
        frontier, as the origin logged them."""
        counts = {"looks": 0, "streams": 0, "frontier": 0}
        for path in self.logs:
            with open(path) as log:
                for line in log:
                    if '"path": "/api/queue/' in line or '"path":"/api/queue/' in line:
                        stream = "streams" if "/stream" in line else "looks"
                        counts["frontier" if "/api/queue/frontier" in line else stream] += 1
        return counts


@contextmanager
def origin(mode: str, args: argparse.Namespace, capacity: int, users: int) -> Iterator[Origin]:
    """The servers of one mode: ours (with the room on if asked; in edge mode, the edge given,
    or one started here in front of it), or the baseline."""
    if mode == "baseline":
        with baseline_server(capacity, args.origin_port + 1) as (base, server):
            yield Origin(base, CpuMeter([server.pid], []), lambda: baseline_app.check("onsale_baseline")[TIER], [])
        return
    with ExitStack() as stack:
        ours = stack.enter_context(our_service("audience_ours", capacity, args.origin_port, False))
        if args.room:
            admin(ours, "/api/admin/waiting-room", {"tiers": [TIER], "rate": args.room_rate, "passSeconds": 300})
        meter = CpuMeter([server.pid for server in ours.servers], [ours.projector.pid])
        servers = Origin(ours.base, meter, lambda: store_books(ours.env), [server.log_path for server in ours.servers])
        if mode == "edge":
            servers.front = args.edge
            if not args.edge:
                servers.front, servers.edge_meter = stack.enter_context(edge_in_front(ours.base, users))
        yield servers


def edge_installed() -> bool:
    """Whether the project's edge can be started here: its package, nginx and nchan."""
    if importlib.util.find_spec("scripts.edge") is None:
        return False
    from scripts.edge.config import installed

    return installed()


@contextmanager
def edge_in_front(origin_base: str, users: int) -> Iterator[tuple[str, CpuMeter]]:
    """The project's edge (nginx + nchan, ``scripts/edge/``, from branch i32-edge) in front of
    ``origin_base``, with its publisher (``ticketledger edge-publish``): its address and CPU
    meter. Its workers hold 16,000 connections each: four of them past 25,000 users."""
    from scripts.edge.config import Edge

    host = "127.0.6.10"
    listen, publish = f"{host}:{free_port()}", f"{host}:{free_port()}"
    with tempfile.TemporaryDirectory(prefix="audience-edge-") as run_dir:
        edge = Edge(
            Path(run_dir),
            listen=listen,
            publish_listen=publish,
            origins=[origin_base.removeprefix("http://")],
            workers=4 if users > 25_000 else 2,
        ).start()
        env = {**os.environ, "EDGE_ORIGIN_URLS": origin_base, "EDGE_PUBLISH_URLS": f"http://{publish}/publish/tiers"}
        command = [str(Path(sys.executable).with_name("ticketledger")), "edge-publish"]
        publisher = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
        try:
            assert edge.process is not None
            yield f"http://{listen}", CpuMeter([edge.process.pid], [publisher.pid])
        finally:
            publisher.terminate()
            publisher.wait(10)
            edge.stop()


def plan_for(mode: str, args: argparse.Namespace, users: int, servers: Origin) -> Plan:
    base = servers.front or servers.base
    stream = args.edge_stream if servers.front and args.edge_stream else base + STREAM
    return Plan(
        base=base,
        stream_url=None if mode == "baseline" else stream,
        frontier_polled=args.room_follow == "frontier",
        tier=TIER,
        room=args.room and mode != "baseline",
        page=mode != "baseline",
        users=users,
        buyers=min(args.buyers, users),
        start=0.0,
        arrive_seconds=args.arrive,
        sale_after=args.arrive,
        sale_seconds=args.sale,
        end_after=args.arrive + args.sale + args.settle,
        looks=not args.follow_only,
    )


def one_run(mode: str, args: argparse.Namespace, users: int) -> dict:
    buyers = min(args.buyers, users)
    capacity = max(1, int(buyers * args.sell_share))
    workers = args.workers or max(1, -(-users // USERS_PER_WORKER))
    load_before = os.getloadavg()[0]
    with origin(mode, args, capacity, users) as servers:
        plan = plan_for(mode, args, users, servers)
        edge_cpu = servers.edge_meter or (lambda: 0.0)
        edge_before = edge_cpu()
        run = run_crowd_processes(plan, workers, servers.books, servers.meter)
        took = time.time() - run.start
        result = summary(merge(run.tallies), run.books, run.start + plan.sale_after)
        result["origin_ticket_requests"] = servers.ticket_requests()
        result["edge_cpu_per_s"] = round((edge_cpu() - edge_before) / took, 3)
    arrival_and_sale = plan.sale_after + plan.sale_seconds
    result.update(
        mode=mode,
        workers=workers,
        capacity=capacity,
        seconds=round(took, 1),
        origin_cpu_s=round(run.cpu[-1] - run.cpu[0], 1),
        origin_cpu_per_s=round((run.cpu[-1] - run.cpu[0]) / took, 3),
        origin_cpu_per_s_to_sale_end=round((run.cpu[1] - run.cpu[0]) / arrival_and_sale, 3),
        client_cpu_per_process=[round(t.cpu_seconds / max(1e-3, t.wall_seconds), 2) for t in run.tallies],
        load_average={"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
    )
    print(line(result), flush=True)
    return result


def line(r: dict) -> str:
    book, news = r["latency_ms"].get("book", {}), r["news_ms"]
    return (
        f"{r['mode']:>8} {r['users']:>6,} users: {r['bookings_per_second']}/s booked, booking p95/p99 "
        f"{book.get('p95', '-')}/{book.get('p99', '-')} ms; sold {r['books']['sold']} of {r['capacity']}, 201s "
        f"{r['sold_by_201s']} ({'ok' if r['sold_out_and_balanced'] else 'NOT BALANCED'}); news p50/p95 "
        f"{news.get('p50', '-')}/{news.get('p95', '-')} ms, {r['followers_missed_the_end']} missed the end; "
        f"errors {r['errors'] or 0}; origin CPU {r['origin_cpu_per_s']}/s, edge {r['edge_cpu_per_s']}/s, "
        f"client {r['client_cpu_per_s']}/s "
        f"{r['client_cpu_per_process']}, loop lag {r['client_lag_ms']}; load {r['load_average']}"
    )


def table(results: list[dict]) -> list[str]:
    lines = [
        "| mode | users | pages answered | bookings/s | booking p95 / p99 ms | sold = capacity = 201s "
        "| news p50 / p95 ms | missed the end | errors | origin CPU s/s | edge CPU s/s | client CPU s/s "
        "| client lag p99 ms | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        book, news = r["latency_ms"].get("book", {}), r["news_ms"]
        pages = r["statuses"].get("page 200", r["statuses"].get("list 200", 0))
        lines.append(
            f"| {r['mode']} | {r['users']:,} | {pages:,} | {r['bookings_per_second']} | {book.get('p95', '-')} / "
            f"{book.get('p99', '-')} | {r['books']['sold']} = {r['capacity']} = {r['sold_by_201s']} "
            f"{'yes' if r['sold_out_and_balanced'] else 'NO'} | {news.get('p50', '-')} / {news.get('p95', '-')} "
            f"| {r['followers_missed_the_end']} | {r['error_count']} | {r['origin_cpu_per_s']} "
            f"| {r.get('edge_cpu_per_s') or '-'} "
            f"| {r['client_cpu_per_s']} | {r['client_lag_ms'].get('p99', '-')} "
            f"| {r['load_average']['before']}→{r['load_average']['after']} |"
        )
    return lines


def runs(args: argparse.Namespace) -> list[dict]:
    """Each size in each mode, sizes in the outer loop so a size's modes run minutes apart at most."""
    results = []
    modes = args.modes.split(",")
    if "edge" in modes and not args.edge and not edge_installed():
        print("audience: no edge here (scripts/edge/, nginx with nchan): edge mode left out", flush=True)
        modes.remove("edge")
    for users in [int(n) for n in str(args.users).split(",")]:
        for mode in modes:
            results.append(one_run(mode, args, users))
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("audience")
    group.add_argument("--users", default="1000,10000,50000", help="sizes, comma-separated (default 1000,10000,50000)")
    group.add_argument("--modes", default="origin,edge,baseline", help=f"any of {','.join(MODES)}")
    group.add_argument("--buyers", type=int, default=1000, help="buyers at every size (default 1,000)")
    group.add_argument("--sell-share", type=float, default=0.8, help="capacity as a share of the buyers (default 0.8)")
    group.add_argument("--arrive", type=float, default=30.0, help="seconds over which the users arrive (default 30)")
    group.add_argument("--sale", type=float, default=10.0, help="seconds over which the buyers book (default 10)")
    group.add_argument("--settle", type=float, default=5.0, help="seconds everyone follows after (default 5)")
    group.add_argument(
        "--follow-only",
        action="store_true",
        help="users only follow availability (no page, no list first): the followers' cost alone",
    )
    group.add_argument("--room", action="store_true", help="buyers queue in the waiting room first")
    group.add_argument("--room-rate", type=float, default=200.0, help="the room's admissions per second")
    group.add_argument(
        "--room-follow",
        choices=("ticket-stream", "frontier"),
        default="ticket-stream",
        help="how a waiting buyer follows its turn: its ticket's stream, or GET /api/queue/frontier every second",
    )
    group.add_argument("--edge", help="an edge already in front of --origin-port (default: start the project's)")
    group.add_argument("--edge-stream", help="the edge's availability stream (default: its /api/tickets/stream)")
    group.add_argument("--workers", type=int, help=f"client processes (default: one per {USERS_PER_WORKER:,} users)")
    group.add_argument("--origin-port", type=int, default=8451, help="the origin's port (the edge proxies to it)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.audience", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    raise_file_limit()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    results = runs(args)
    print("\n".join(table(results)))
    out = ROOT / "var" / "bench" / f"audience-{started.replace(':', '')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"started": started, "args": vars(args), "results": results}, indent=2))
    print(f"results: {out.relative_to(ROOT)}")
    return 0 if all(r["sold_out_and_balanced"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
