"""Bookings sent at a fixed rate, whatever the server does: latency as a buyer sees it.

    python -m scripts.bench.open_loop http://127.0.0.1:8000 --rate 300 --seconds 10 --tier VIP

A closed loop (wrk's N connections, each sending when its last answer came) slows down with
the server and so measures its queue, not its latency. Here request ``i`` is due at
``start + i / rate``; its latency is counted from when it was due, not from when it could be
sent, so a client that falls behind (no free connection, a busy host) shows as latency too
(no "coordinated omission"). Runs as a process of its own, so its CPU is counted apart;
prints one JSON line: rate asked and achieved, p50/p95/p99/max in ms, statuses, errors,
and its own CPU per request (it shares the host with the server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys

import aiohttp


async def run(url: str, rate: float, seconds: float, tier: str, connections: int) -> dict:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    run_id = os.urandom(4).hex()
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections), timeout=timeout) as session:

        async def one(i: int, due: float) -> None:
            nonlocal errors
            body = {"userId": f"o{run_id}-{i}", "tier": tier, "quantity": 1}
            try:
                async with session.post(f"{url}/api/tickets/book", json=body) as response:
                    await response.read()
                    statuses[str(response.status)] = statuses.get(str(response.status), 0) + 1
            except (TimeoutError, aiohttp.ClientError):
                errors += 1
            latencies.append((loop.time() - due) * 1000)

        start = loop.time() + 0.2
        tasks = []
        for i in range(int(rate * seconds)):
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            tasks.append(loop.create_task(one(i, due)))
        await asyncio.gather(*tasks)
        took = loop.time() - start
    q = statistics.quantiles(latencies, n=100)
    used = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "client_cpu_ms": round((used.ru_utime + used.ru_stime) * 1000 / len(latencies), 3),
        "rate": rate,
        "achieved": round(statuses.get("201", 0) / took, 1),
        "latency_ms": {"p50": q[49], "p95": q[94], "p99": q[98], "max": max(latencies)},
        "statuses": statuses,
        "errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--tier", default="VIP")
    parser.add_argument(
        "--connections", type=int, default=1024, help="at most (default 1,024); a request finding none free waits"
    )
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args.url, args.rate, args.seconds, args.tier, args.connections))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
