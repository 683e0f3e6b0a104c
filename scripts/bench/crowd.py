"""Thousands of browsers following the tier list's stream, held open while something else is
measured (the part ``streams``: ``mixed.crowd_runs``, ``edge_crowds.py``).

Opening 8,000 streams takes the server longer than a short run lasts, so the crowd opens
first (each stream reconnecting as ``EventSource`` does) and the measurement starts once
every stream is open, or after ``RAMP_SECONDS``. The streams are spread over ``PROCESSES``
client processes, each an event loop of its own: one could not read them all. While
measuring, each stream counts the events it got and each wait for news longer than
``LATE_SECONDS`` (the list changes all the time while a tier is being booked).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import Counter
from typing import Any

import aiohttp

PROCESSES = 4
RAMP_SECONDS = 60.0
LATE_SECONDS = 1.0
_context = multiprocessing.get_context("spawn")  # the bench's own threads are not copied into the clients


class Crowd:
    """``clients`` streams of ``url``, open from ``__enter__`` to ``finish``."""

    def __init__(self, url: str, clients: int) -> None:
        self.url, self.clients = url, clients
        self.open = _context.Value("i", 0)
        self.measuring, self.stopping = _context.Event(), _context.Event()
        self.results = _context.Queue()
        shares = [clients // PROCESSES + (n < clients % PROCESSES) for n in range(PROCESSES)]
        self.processes = [
            _context.Process(
                target=_client, args=(url, share, self.open, self.measuring, self.stopping, self.results), daemon=True
            )
            for share in shares
            if share
        ]

    def __enter__(self) -> Crowd:
        for process in self.processes:
            process.start()
        started = time.monotonic()
        while self.open.value < self.clients and time.monotonic() - started < RAMP_SECONDS:
            time.sleep(0.2)
        self.ramp = {"opened": self.open.value, "ramp_seconds": round(time.monotonic() - started, 1)}
        return self

    def measure(self) -> None:
        self.began = time.monotonic()
        self.measuring.set()

    def finish(self) -> dict[str, Any]:
        """Stop the crowd; what it saw while measuring."""
        seconds = time.monotonic() - self.began
        self.stopping.set()
        seen: Counter[str] = Counter()
        longest = 0.0
        for _ in self.processes:
            part = self.results.get(timeout=60)
            longest = max(longest, part.pop("longest_wait"))
            seen.update(part)
        for process in self.processes:
            process.join(timeout=10)
        return {"clients": self.clients, "seconds": seconds, **self.ramp, **seen, "longest_wait": round(longest, 2)}

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


def _client(url: str, clients: int, opened, measuring, stopping, results) -> None:
    results.put(asyncio.run(_streams(url, clients, opened, measuring, stopping)))


async def _streams(url: str, clients: int, opened, measuring, stopping) -> dict[str, Any]:
    seen: Counter[str] = Counter()
    longest = [0.0]
    connector = aiohttp.TCPConnector(limit=clients, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = [asyncio.create_task(_stream(session, url, opened, measuring, seen, longest)) for _ in range(clients)]
        while not stopping.is_set():
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {**seen, "longest_wait": longest[0]}


async def _stream(session: aiohttp.ClientSession, url: str, opened, measuring, seen: Counter[str], longest) -> None:
    first = True
    while True:
        try:
            async with session.get(url, headers={"Accept": "text/event-stream"}) as answer:
                if first:
                    with opened.get_lock():
                        opened.value += 1
                    first = False
                last = None
                async for line in answer.content:
                    if not line.startswith(b"data:") or not measuring.is_set():
                        continue
                    now = time.monotonic()
                    seen["events"] += 1
                    if last is not None:
                        longest[0] = max(longest[0], now - last)
                        seen["late"] += now - last > LATE_SECONDS
                    last = now
                seen["ended"] += measuring.is_set()
        except aiohttp.ClientError:
            seen["errors"] += measuring.is_set()
            await asyncio.sleep(1)  # EventSource's retry
