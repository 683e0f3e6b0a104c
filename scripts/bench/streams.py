"""Browsers that follow the tier list, for the mixed-traffic runs: over the live stream, or
by polling it every 2 s as our page does when it cannot stream (with the ETag it was
given, as a browser's cache sends it). Each runs for ``seconds`` in an event loop of its
own thread and returns what it saw.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from typing import Any

import aiohttp

POLL_SECONDS = 2.0


def follow_stream(base: str, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` open ``/api/tickets/stream`` (again when it ends, as ``EventSource`` does)."""
    return asyncio.run(_crowd(base, clients, seconds, _stream))


def poll_list(base: str, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` each ask for ``/api/tickets`` every ``POLL_SECONDS``."""
    return asyncio.run(_crowd(base, clients, seconds, _poll))


async def _crowd(base: str, clients: int, seconds: float, one) -> dict[str, Any]:
    seen: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=clients, ttl_dns_cache=None)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as session:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(one(session, base, deadline, seen) for _ in range(clients)))
    return {"clients": clients, "seconds": seconds, **seen}


async def _stream(session: aiohttp.ClientSession, base: str, deadline: float, seen: Counter[str]) -> None:
    while (left := deadline - time.monotonic()) > 0:
        try:
            async with session.get(base + "/api/tickets/stream", timeout=aiohttp.ClientTimeout(total=left)) as answer:
                seen[f"status {answer.status}"] += 1
                async for line in answer.content:
                    if line.startswith(b"data:"):
                        seen["events"] += 1
        except TimeoutError:
            return  # the run is over
        except aiohttp.ClientError:
            seen["errors"] += 1
            await asyncio.sleep(1)  # EventSource's retry


async def _poll(session: aiohttp.ClientSession, base: str, deadline: float, seen: Counter[str]) -> None:
    etag: str | None = None
    await asyncio.sleep(random.uniform(0, POLL_SECONDS))  # browsers do not all look at the same moment
    while time.monotonic() < deadline:
        try:
            async with session.get(base + "/api/tickets", headers={"If-None-Match": etag} if etag else {}) as answer:
                await answer.read()
                seen[f"status {answer.status}"] += 1
                etag = answer.headers.get("ETag", etag)
        except aiohttp.ClientError:
            seen["errors"] += 1
        await asyncio.sleep(POLL_SECONDS)
