"""Joins: the waiting room's ``POST /api/queue`` answered before Flask, and through Flask.

    python -m scripts.bench.joins --rate 1667 --seconds 30     # 50,000 buyers joining in 30 s

One server of ours (``ticketledger serve``'s shape: 2 gevent workers, the projection process,
the queue in Redis) with a room on, and in one run, on that one server, each phase with new
users: every join answered before Flask (``fast``: ``web/http/queue_answer.py``), and every
join sent with an ``Origin`` header of another site, which that answer leaves to Flask (``flask``:
the view as it answered every join before; the header adds no work but Flask's CORS check).
First each at its most (``--connections`` joining back to back: joins a second), then each
open loop, joins due evenly at ``--rate`` a second for ``--seconds`` (every latency from
when its join was due, so a server that falls behind shows). Reported per phase: joins a
second, p50/p95/p99, answers by status, the server workers' CPU per join, the client's CPU.
The client is one process on uvloop with a bare HTTP/1.1 protocol on kept-alive connections,
so that it costs the host little beside the server (about 40 µs a join). Prints a table and
keeps the numbers in ``var/bench/joins-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import uvloop

from scripts.bench.kit import ROOT, cpu_seconds, raise_file_limit
from scripts.bench.onsale_buyers import quantiles
from scripts.bench.onsale_servers import admin, our_service

OTHER_ORIGIN = b"Origin: https://elsewhere.example\r\n"


class Connection(asyncio.Protocol):
    """One kept-alive connection: a request at a time, its answer's status when whole."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.answer: asyncio.Future[int] | None = None
        self.data = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.data += data
        head, found, body = self.data.partition(b"\r\n\r\n")
        if not found:
            return
        length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        if len(body) >= length and self.answer is not None and not self.answer.done():
            self.data = body[length:]
            self.answer.set_result(int(head[9:12]))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(ConnectionError("closed"))

    async def ask(self, request: bytes) -> int:
        self.answer = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(request)
        return await self.answer


class Joiner:
    """Joins over a pool of connections (opened as needed, up to ``size``)."""

    def __init__(self, host: str, port: int, size: int, prefix: str, header: bytes) -> None:
        self.host, self.port, self.size, self.prefix, self.header = host, port, size, prefix, header
        self.idle: list[Connection] = []
        self.opened = 0
        self.freed = asyncio.Condition()
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}
        self.count = 0

    def request(self) -> bytes:
        self.count += 1
        body = json.dumps({"userId": f"{self.prefix}-{self.count}"}).encode()
        return (
            b"POST /api/queue HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            + self.header
            + b"Content-Length: %d\r\n\r\n" % len(body)
            + body
        )

    async def connection(self) -> Connection:
        while not self.idle:
            if self.opened < self.size:
                self.opened += 1
                _, protocol = await asyncio.get_running_loop().create_connection(Connection, self.host, self.port)
                return protocol
            async with self.freed:
                await self.freed.wait()
        return self.idle.pop()

    async def join(self, due: float) -> None:
        connection = await self.connection()
        try:
            status = str(await asyncio.wait_for(connection.ask(self.request()), 30))
        except (TimeoutError, ConnectionError, OSError) as error:
            status = type(error).__name__
            self.opened -= 1
            connection = None  # type: ignore[assignment]
        self.latencies.append(time.perf_counter() - due)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if connection is not None:
            self.idle.append(connection)
        async with self.freed:
            self.freed.notify()


async def at_most(joiner: Joiner, seconds: float) -> float:
    """Every connection joining back to back for ``seconds``: joins answered a second."""
    end = time.perf_counter() + seconds

    async def one_connection() -> None:
        while time.perf_counter() < end:
            await joiner.join(time.perf_counter())

    started = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(joiner.size)))
    return len(joiner.latencies) / (time.perf_counter() - started)


async def open_loop(joiner: Joiner, rate: float, seconds: float) -> float:
    """Joins due evenly at ``rate`` a second: joins answered a second, over the whole phase."""
    started = time.perf_counter()
    tasks = []
    for n in range(int(rate * seconds)):
        due = started + n / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.ensure_future(joiner.join(due)))
    await asyncio.gather(*tasks)
    return len(joiner.latencies) / (time.perf_counter() - started)


def phase(name: str, kind: str, port: int, servers: list, args: argparse.Namespace, run: int) -> dict:
    header = OTHER_ORIGIN if name == "flask" else b""
    size = args.connections if kind == "at-most" else args.pool
    joiner = Joiner("127.0.0.1", port, size, f"{kind}-{name}-{run}", header)
    server_cpu = lambda: sum(cpu_seconds(server.pid) for server in servers)  # noqa: E731
    cpu, client_cpu, load = server_cpu(), time.process_time(), os.getloadavg()[0]
    if kind == "at-most":
        per_second = uvloop.run(at_most(joiner, args.at_most_seconds))
    else:
        per_second = uvloop.run(open_loop(joiner, args.rate, args.seconds))
    joins = len(joiner.latencies)
    result = {
        "answered_by": name,
        "phase": kind,
        "joins": joins,
        "joins_per_s": round(per_second, 1),
        "latency_ms": quantiles(joiner.latencies),
        "statuses": joiner.statuses,
        "server_cpu_ms_per_join": round((server_cpu() - cpu) * 1000 / max(1, joins), 3),
        "client_cpu_ms_per_join": round((time.process_time() - client_cpu) * 1000 / max(1, joins), 3),
        "load_average": f"{load:.1f}→{os.getloadavg()[0]:.1f}",
    }
    print(json.dumps(result), flush=True)
    return result


def table(results: list[dict]) -> str:
    lines = [
        "| phase | answered by | joins | joins/s | p50 / p95 / p99 ms | statuses | server CPU ms/join | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        q = r["latency_ms"]
        lines.append(
            f"| {r['phase']} | {r['answered_by']} | {r['joins']:,} | {r['joins_per_s']:,} | "
            f"{q['p50']:,} / {q['p95']:,} / {q['p99']:,} | {r['statuses']} | {r['server_cpu_ms_per_join']} | "
            f"{r['load_average']} |"
        )
    return "\n".join(lines)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench.joins", description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1667.0, help="open loop: joins due a second (default 1667)")
    parser.add_argument("--seconds", type=float, default=30.0, help="open loop: for this long (default 30)")
    parser.add_argument("--pool", type=int, default=1000, help="open loop: connections at most (default 1000)")
    parser.add_argument("--connections", type=int, default=32, help="at most: joining back to back (default 32)")
    parser.add_argument("--at-most-seconds", type=float, default=10.0)
    parser.add_argument("--phases", default="at-most,open-loop", help="any of at-most, open-loop")
    parser.add_argument("--port", type=int, default=8461)
    args = parser.parse_args(argv)
    args.phases = args.phases.split(",")
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    raise_file_limit()
    results = []
    with our_service("bench_joins", 100, args.port, False) as ours:
        admin(ours, "/api/admin/waiting-room", {"tiers": ["ONSALE"], "rate": 300, "passSeconds": 300})
        for kind in args.phases:
            for run, name in enumerate(("flask", "fast", "flask", "fast") if kind == "at-most" else ("flask", "fast")):
                results.append(phase(name, kind, args.port, ours.servers, args, run))
        admin(ours, "/api/admin/waiting-room/close", {})
    print(table(results))
    out = ROOT / "var" / "bench" / f"joins-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    print(f"kept in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
