"""A TCP proxy that puts a network between the servers and PostgreSQL: ``rtt_ms`` is added
to every round trip, and the round trips are counted.

    python -m scripts.harness.delay_proxy --rtt-ms 1 --upstream 127.0.0.1:5432 \\
        --listen 127.0.0.1:15432 --listen 127.0.0.1:15433 --stats 127.0.0.1:15439

This kernel has no ``netem``, so the delay is made here, in user space. The whole round
trip's delay is put on the way to the server, none on the way back: a timer of the event
loop waits whole milliseconds (``epoll``), so half a millisecond each way could not be
asked for, and a round trip costs the same either way. Bytes keep their order: each
direction is one FIFO of chunks due at their arrival time plus the delay.

A round trip is counted when a client sends after it has received (a query after an
answer): what a driver that pipelines does in one flight counts once. Each ``--listen``
port counts apart (the workers on one, the projection process on another), and a
connection to ``--stats`` gets the counts so far as one JSON line. ``SIGUSR1`` stalls every
link (no byte goes through either way, the connections stay open: a partition) and
``SIGUSR2`` lets the held bytes go on, in order (``Stall``). Standard library only;
its own CPU is read from /proc by the benchmark like every other process's. Used by the
benchmark's network part (``scripts/bench/network.py``) and the history checker's
``--rtt-ms`` (``scripts/verify``); ``start`` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import selectors
import signal
import subprocess
import sys
from collections import deque
from pathlib import Path


class Link(asyncio.Protocol):
    """One side of one proxied connection: what arrives here goes out ``delay`` later to
    ``peer``. The client's side (``counts`` given) counts the round trips; it reads nothing
    until the connection to the server is open."""

    def __init__(
        self,
        delay: float,
        counts: dict[str, int] | None = None,
        client: Link | None = None,
        upstream: tuple[str, int] = ("", 0),
    ) -> None:
        self.delay = delay
        self.upstream = upstream
        self.counts = counts
        self.client = client  # on the server's side: whose answers these are
        self.transport: asyncio.Transport | None = None
        self.peer: asyncio.Transport | None = None
        self.due: deque[tuple[float, bytes]] = deque()
        self.answered = True  # a client's first query is a round trip

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.counts is not None:
            self.transport.pause_reading()
            self.counts["connections"] += 1
            asyncio.get_running_loop().create_task(self.connect())

    async def connect(self) -> None:
        try:
            upstream, _ = await asyncio.get_running_loop().create_connection(
                lambda: Link(0.0, client=self), *self.upstream
            )
        except OSError:
            self.transport.close()  # type: ignore[union-attr]
            return
        self.peer = upstream  # type: ignore[assignment]
        self.transport.resume_reading()  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        if self.client is not None:
            self.client.answered = True
        elif self.answered:
            self.counts["round_trips"] += 1  # type: ignore[index]
            self.answered = False
        if not self.delay:
            self.send(data)
            return
        loop = asyncio.get_running_loop()
        self.due.append((loop.time() + self.delay, data))
        if len(self.due) == 1:
            loop.call_at(self.due[0][0] - LATE.seconds, self.flush)

    def flush(self) -> None:
        now = asyncio.get_running_loop().time()
        if self.due:
            LATE.observe(now - self.due[0][0])
        while self.due and self.due[0][0] - LATE.seconds <= now:
            self.send(self.due.popleft()[1])
        if self.due:
            asyncio.get_running_loop().call_at(self.due[0][0] - LATE.seconds, self.flush)

    def send(self, data: bytes) -> None:
        if STALL.on:
            STALL.hold(self, data)
            return
        peer = self.peer if self.client is None else self.client.transport
        if peer is not None and not peer.is_closing():
            peer.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        peer = self.peer if self.client is None else self.client.transport
        if peer is not None:
            peer.close()


class Lateness:
    """How late a timer of this loop fires, on average (whole-millisecond waits, the wake-up,
    the other callbacks due first): timers are set that much early, so the delay added is
    the one asked for, not the one asked for plus the loop's own."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def observe(self, late: float) -> None:
        """``late``: when the first chunk went out, after when it was due (negative: before)."""
        self.seconds = max(0.0, self.seconds + 0.01 * late)


LATE = Lateness()


class Stall:
    """A link that stops carrying bytes, both ways, while the connections stay open (what a
    network partition looks like to both ends): ``SIGUSR1`` stalls every link, ``SIGUSR2``
    sends on what was held, in order."""

    def __init__(self) -> None:
        self.on = False
        self.held: list[tuple[Link, bytes]] = []

    def hold(self, link: Link, data: bytes) -> None:
        self.held.append((link, data))

    def resume(self) -> None:
        self.on = False
        held, self.held = self.held, []
        for link, data in held:
            link.send(data)


STALL = Stall()


async def main(args: argparse.Namespace) -> None:
    up_host, up_port = args.upstream.rsplit(":", 1)
    loop = asyncio.get_running_loop()
    counts = {listen: {"connections": 0, "round_trips": 0} for listen in args.listen}
    servers = []
    for listen in args.listen:
        host, port = listen.rsplit(":", 1)
        servers.append(
            await loop.create_server(
                lambda c=counts[listen]: Link(args.rtt_ms / 1000, c, upstream=(up_host, int(up_port))),
                host,
                int(port),
                backlog=1024,
            )
        )

    async def stats(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(json.dumps(counts).encode() + b"\n")
        await writer.drain()
        writer.close()

    host, port = args.stats.rsplit(":", 1)
    servers.append(await asyncio.start_server(stats, host, int(port)))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, setattr, STALL, "on", True)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, STALL.resume)
    print("ready", flush=True)
    await stop.wait()


def start(rtt_ms: float, upstream: str, listen: list[str], stats: str) -> subprocess.Popen:
    """The proxy as a process of its own (so its CPU is its own), once it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.harness.delay_proxy"]
        + ["--rtt-ms", str(rtt_ms), "--upstream", upstream, "--stats", stats]
        + [arg for address in listen for arg in ("--listen", address)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError(f"the delaying proxy did not start ({proc.wait()})")
    return proc


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rtt-ms", type=float, required=True)
    parser.add_argument("--upstream", required=True, help="host:port of PostgreSQL")
    parser.add_argument("--listen", action="append", required=True, help="host:port (repeat: counted apart)")
    parser.add_argument("--stats", required=True, help="host:port that answers the counts")
    return parser.parse_args(argv)


if __name__ == "__main__":
    # select(2) waits to the microsecond; epoll, asyncio's default, to the millisecond (rounded up).
    with asyncio.Runner(loop_factory=lambda: asyncio.SelectorEventLoop(selectors.SelectSelector())) as runner:
        runner.run(main(arguments()))
