"""Thousands of browsers following the tier list's stream, held open while something else is
measured (the part ``streams``: ``mixed.crowd_runs``, ``edge_crowds.py``).

Opening 8,000 streams takes the server longer than a short run lasts, so the crowd opens
first, ``OPENS_PER_SECOND`` (each stream reconnecting as ``EventSource`` does; thousands
opened in the same instant kept the origin from answering anything else for seconds), and
the measurement starts once every stream is open, or after ``RAMP_SECONDS``. The streams are spread over ``PROCESSES``
client processes, each a uvloop of its own reading its streams on a bare protocol
(``audience_sse.py``, half the client CPU per event of aiohttp's): one could not read them all. While
measuring, each stream counts the events it got and each wait for news longer than
``LATE_SECONDS`` (the list changes all the time while a tier is being booked).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import Counter
from typing import Any

import uvloop

from scripts.bench.audience_sse import ENDED, SseProtocol, subscribe
from scripts.bench.kit import raise_file_limit

PROCESSES = 4
RAMP_SECONDS = 60.0
OPENS_PER_SECOND = 400  # 8,000 streams open in 20 s
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
    raise_file_limit()
    results.put(uvloop.run(_streams(url, clients, opened, measuring, stopping)))


async def _streams(url: str, clients: int, opened, measuring, stopping) -> dict[str, Any]:
    seen: Counter[str] = Counter()
    state = {"measuring": False, "longest": 0.0}  # the parent's flag, copied here every 0.1 s: not a lock per event
    streams: set[SseProtocol] = set()
    tasks = []
    for _ in range(clients):  # at OPENS_PER_SECOND in all, as an audience arrives, not in one burst
        if stopping.is_set():
            break
        state["measuring"] = measuring.is_set()
        tasks.append(asyncio.create_task(_stream(url, opened, state, seen, streams)))
        await asyncio.sleep(PROCESSES / OPENS_PER_SECOND)
    while not stopping.is_set():
        state["measuring"] = measuring.is_set()
        await asyncio.sleep(0.1)
    for task in tasks:
        task.cancel()
    for stream in list(streams):
        stream.finish(ENDED)
    await asyncio.gather(*tasks, return_exceptions=True)
    return {**seen, "longest_wait": state["longest"]}


async def _stream(url: str, opened, state: dict, seen: Counter[str], streams: set[SseProtocol]) -> None:
    first = True
    while True:
        last: float | None = None

        def on_data(_: bytes) -> None:
            nonlocal last
            if not state["measuring"]:
                return
            now = time.monotonic()
            seen["events"] += 1
            if last is not None:
                state["longest"] = max(state["longest"], now - last)
                seen["late"] += now - last > LATE_SECONDS
            last = now

        try:
            stream = await subscribe(url, on_data, timeout=30)
        except (OSError, TimeoutError):
            seen["errors"] += state["measuring"]
            await asyncio.sleep(1)  # EventSource's retry
            continue
        if first:
            with opened.get_lock():
                opened.value += 1
            first = False
        streams.add(stream)
        outcome = await stream.closed
        streams.discard(stream)
        seen["ended" if outcome == ENDED else "errors"] += state["measuring"]
        await asyncio.sleep(1)  # EventSource's retry
