"""Browsers that follow the tier list, for the mixed-traffic runs: over the live stream, or
by polling it every 2 s as our page does when it cannot stream (with the ETag it was
given, as a browser's cache sends it). Each runs for ``seconds`` and returns what it saw.
Thousands of streams, each fed twice a second, take more than one process to read:
they are spread over ``PROCESSES`` client processes, each an event loop of its own.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import Any

import aiohttp

POLL_SECONDS = 2.0
PROCESSES = 4
STREAMS_PER_PROCESS = 500  # below this, one process reads them all
LATE_SECONDS = 1.0  # a stream that waited longer than this for news while the list changed was late


def follow_stream(base: str, clients: int, seconds: float, path: str = "/api/tickets/stream") -> dict[str, Any]:
    """``clients`` open ``path`` (again when it ends, as ``EventSource`` does); ``late``
    counts the waits for news longer than ``LATE_SECONDS``, ``longest_wait`` the longest."""
    processes = max(1, min(PROCESSES, clients // STREAMS_PER_PROCESS))
    if processes == 1:
        return _follow(base + path, clients, seconds)
    shares = [clients // processes + (n < clients % processes) for n in range(processes)]
    with ProcessPoolExecutor(processes) as pool:
        parts = list(pool.map(partial(_follow, base + path, seconds=seconds), shares))
    seen: Counter[str] = Counter()
    for part in parts:
        seen.update({key: n for key, n in part.items() if key not in ("clients", "seconds", "longest_wait")})
    return {"clients": clients, "seconds": seconds, **seen, "longest_wait": max(p["longest_wait"] for p in parts)}


def _follow(url: str, clients: int, seconds: float) -> dict[str, Any]:
    longest = [0.0]
    seen = asyncio.run(_crowd(url, clients, seconds, partial(_stream, longest=longest)))
    return {**seen, "longest_wait": round(longest[0], 2)}


def poll_list(base: str, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` each ask for ``/api/tickets`` every ``POLL_SECONDS``."""
    return asyncio.run(_crowd(base + "/api/tickets", clients, seconds, _poll))


async def _crowd(url: str, clients: int, seconds: float, one) -> dict[str, Any]:
    seen: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=clients, ttl_dns_cache=None)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as session:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(one(session, url, deadline, seen) for _ in range(clients)))
    return {"clients": clients, "seconds": seconds, **seen}


async def _stream(
    session: aiohttp.ClientSession, url: str, deadline: float, seen: Counter[str], longest: list[float]
) -> None:
    while (left := deadline - time.monotonic()) > 0:
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=left)) as answer:
                seen[f"status {answer.status}"] += 1
                last = None
                async for line in answer.content:
                    if line.startswith(b"data:"):
                        seen["events"] += 1
                        now = time.monotonic()
                        if last is not None:
                            longest[0] = max(longest[0], now - last)
                            seen["late"] += now - last > LATE_SECONDS
                        last = now
        except TimeoutError:
            return  # the run is over
        except aiohttp.ClientError:
            seen["errors"] += 1
            await asyncio.sleep(1)  # EventSource's retry


async def _poll(session: aiohttp.ClientSession, url: str, deadline: float, seen: Counter[str]) -> None:
    etag: str | None = None
    await asyncio.sleep(random.uniform(0, POLL_SECONDS))  # browsers do not all look at the same moment
    while time.monotonic() < deadline:
        try:
            async with session.get(url, headers={"If-None-Match": etag} if etag else {}) as answer:
                await answer.read()
                seen[f"status {answer.status}"] += 1
                etag = answer.headers.get("ETag", etag)
        except aiohttp.ClientError:
            seen["errors"] += 1
        await asyncio.sleep(POLL_SECONDS)
