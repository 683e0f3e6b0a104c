"""The buyers of the on-sale benchmark: each one an asyncio task that behaves like a real
client, and what they saw.

A buyer arrives at its time, then either
- **queues** (the room on): joins (``POST /api/queue``), follows its ticket over the
  ticket's stream (or looks at it again after the ``pollAfterSeconds`` each answer
  suggests, or follows the room's frontier as the booking page does, asking for its ticket
  only once the frontier reached its number), and once admitted books 1 to 4 tickets with
  its pass; it stops when told the sale sold out;
- or **books straight away** (the room off, and the row-locking baseline).
Either way a booking refused for want of tickets is tried once more for what is left, if
anything is; a 503 is retried after its ``Retry-After``; a connection error after a
second (both bounded). Every answer is counted by endpoint and status, with its latency
as the client saw it (including any wait for one of the pool's connections: the pool
plays the load balancer in front of the servers).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

RETRIES = 5
FRONTIER_SECONDS = 1.0  # the frontier's max-age
# A client gives up on a request after this long, waiting for a pooled connection included
# (counted as a connection error): patient, to see whether every buyer gets an answer.
CLIENT_TIMEOUT = 300
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass
class Buyer:
    index: int
    arrives: float  # seconds after the start
    quantity: int
    join_sent: float | None = None
    join_answered: float | None = None
    place: int | None = None  # the queue's place, when joined after the opening
    bought: int = 0


@dataclass
class Seen:
    """Everything the buyers saw in one flood."""

    capacity: int
    started: float = field(default_factory=time.perf_counter)
    statuses: Counter = field(default_factory=Counter)  # (endpoint, status) -> answers
    errors: Counter = field(default_factory=Counter)  # (endpoint, exception) -> count
    follow: str = "poll"  # how waiting buyers follow their ticket: "stream", "poll" or "frontier"
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"join": [], "status": [], "frontier": [], "book": []}
    )
    sold: int = 0
    sold_out_after: float | None = None  # seconds from the start to the booking that sold the last ticket
    sold_out_heard: list[float] = field(default_factory=list)  # when buyers who waited were told it sold out
    inconsistent: int = 0  # answers whose state contradicts their own place and frontier
    client_cpu_seconds: float = 0.0
    server_cpu_seconds: float = 0.0

    def now(self) -> float:
        return time.perf_counter() - self.started


class Client:
    """Sends ``/api/queue`` requests to ``queue_base`` and the rest to ``base`` (the same
    server, unless the queue has servers of its own)."""

    def __init__(
        self, session: aiohttp.ClientSession, base: str, queue_base: str, seen: Seen, join_headers: dict[str, str]
    ) -> None:
        self.session, self.base, self.queue_base, self.seen = session, base, queue_base, seen
        self.join_headers = join_headers

    async def call(
        self, endpoint: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any] | None:
        """One request; ``None`` after a connection error (counted)."""
        started = time.perf_counter()
        try:
            base = self.queue_base if path.startswith("/api/queue") else self.base
            async with self.session.request(
                method,
                base + path,
                headers={**JSON_HEADERS, **(headers or {})},
                data=None if body is None else json.dumps(body),
            ) as response:
                data = await response.json(content_type=None)
                status = response.status
        except (TimeoutError, aiohttp.ClientError, json.JSONDecodeError) as error:
            self.seen.errors[(endpoint, f"{type(error).__name__}: {error}"[:120])] += 1
            return None
        self.seen.latencies[endpoint].append(time.perf_counter() - started)
        self.seen.statuses[(endpoint, status)] += 1
        return status, data

    async def poll(self, ticket: dict) -> dict:
        """The ticket once more, after the ``pollAfterSeconds`` it suggests."""
        await asyncio.sleep(ticket["pollAfterSeconds"])
        answer = await self.call("status", "GET", f"/api/queue/{ticket['ticketId']}")
        if answer is None or answer[0] != 200:
            await asyncio.sleep(1)
            return ticket
        return answer[1]

    async def frontier(self, ticket: dict) -> dict:
        """The room's frontier once a second (the same answer for every buyer: an edge's cache
        would answer it); the ticket itself only once the frontier reached its number, the
        sale sold out, or, for a place drawn at the opening, the opening passed."""
        await asyncio.sleep(FRONTIER_SECONDS)
        answer = await self.call("frontier", "GET", "/api/queue/frontier")
        if answer is None or answer[0] != 200:
            return ticket
        room, number = answer[1], ticket["number"]
        opened = room["opensAt"] is not None and datetime.fromisoformat(room["opensAt"]).timestamp() <= time.time()
        turn = opened if number is None else number <= room["admitted"]
        if room["active"] and not room["soldOut"] and not turn:
            return ticket
        answer = await self.call("status", "GET", f"/api/queue/{ticket['ticketId']}")
        return answer[1] if answer is not None and answer[0] == 200 else ticket

    async def stream(self, ticket: dict) -> dict:
        """The ticket as its stream last said before ending (as the page follows it); again
        after a second when the stream breaks, as ``EventSource`` does."""
        try:
            async with self.session.get(f"{self.queue_base}/api/queue/{ticket['ticketId']}/stream") as response:
                self.seen.statuses[("stream", response.status)] += 1
                async for line in response.content:  # to its end: the server ends it after the news
                    if line.startswith(b"data: "):
                        ticket = json.loads(line[6:])
        except (TimeoutError, aiohttp.ClientError) as error:
            self.seen.errors[("stream", f"{type(error).__name__}: {error}"[:120])] += 1
            await asyncio.sleep(1)
        return ticket


def left_in(error: dict) -> int:
    """How many tickets a 422 says are left (ours: in its details; the baseline: in its message)."""
    texts = [d.get("message", "") for d in error.get("error", {}).get("details", [])] + [
        error.get("error", {}).get("message", "")
    ]
    found = [int(m.group(1)) for text in texts if (m := re.search(r"(\d+) (?:available|left)", text))]
    return found[0] if found else 0


async def book(client: Client, buyer: Buyer, headers: dict[str, str] | None = None) -> None:
    """Book the buyer's tickets; once more for what is left after a 422; stop when none are."""
    quantity, tries = buyer.quantity, 0
    while quantity > 0 and tries < RETRIES:
        tries += 1
        answer = await client.call(
            "book",
            "POST",
            "/api/tickets/book",
            {"userId": f"buyer-{buyer.index}", "tier": "ONSALE", "quantity": quantity},
            headers,
        )
        if answer is None:
            await asyncio.sleep(1)
            continue
        status, data = answer
        if status == 201:
            buyer.bought += quantity
            client.seen.sold += quantity
            if client.seen.sold >= client.seen.capacity and client.seen.sold_out_after is None:
                client.seen.sold_out_after = client.seen.now()
            return
        if status == 422:
            quantity = min(quantity - 1, left_in(data)) if left_in(data) else 0
        elif status == 503:
            await asyncio.sleep(1)
        else:
            return


async def queue_then_book(client: Client, buyer: Buyer) -> None:
    for _ in range(RETRIES):
        buyer.join_sent = client.seen.now()
        answer = await client.call(
            "join", "POST", "/api/queue", {"userId": f"buyer-{buyer.index}"}, client.join_headers
        )
        buyer.join_answered = client.seen.now()
        if answer is not None and answer[0] in (200, 201):
            ticket = answer[1]
            break
        await asyncio.sleep(1)
    else:
        return
    if ticket["position"] is not None:
        buyer.place = ticket["position"] + ticket["admitted"]
    waited = ticket["state"] == "waiting"
    while ticket["state"] == "waiting":
        follow = {"stream": client.stream, "poll": client.poll, "frontier": client.frontier}[client.seen.follow]
        ticket = await follow(ticket)
        check_consistent(client.seen, buyer, ticket)
    if waited and ticket["state"] == "soldOut":  # a buyer who was waiting when it sold out
        client.seen.sold_out_heard.append(client.seen.now())
    if ticket["state"] == "admitted":
        await book(client, buyer, {"Queue-Pass": ticket["queuePass"]})


def check_consistent(seen: Seen, buyer: Buyer, ticket: dict) -> None:
    """Admitted exactly when the place is within the frontier the same answer reports."""
    if buyer.place is None:
        return
    if (ticket["state"] == "admitted") != (buyer.place <= ticket["admitted"]) and ticket["state"] in (
        "admitted",
        "waiting",
    ):
        seen.inconsistent += 1


async def buyer_task(client: Client, buyer: Buyer, queue: bool) -> None:
    await asyncio.sleep(max(0.0, buyer.arrives - client.seen.now()))
    await (queue_then_book(client, buyer) if queue else book(client, buyer))


async def flood(
    bases: tuple[str, str],
    buyers: list[Buyer],
    queue: bool,
    connections: int,
    capacity: int,
    follow: str = "poll",
    join_headers: dict[str, str] | None = None,
) -> Seen:
    """``join_headers``: sent with every join (``room-flask``: an ``Origin`` that leaves it to Flask)."""
    seen = Seen(capacity, follow=follow)
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        client = Client(session, *bases, seen, join_headers or {})
        seen.started = time.perf_counter()
        await asyncio.gather(*(buyer_task(client, buyer, queue) for buyer in buyers))
    return seen


def make_buyers(count: int, arrival_seconds: float, seed: int) -> list[Buyer]:
    """``count`` buyers arriving at random (uniformly) within ``arrival_seconds``, wanting 1 to 4 tickets."""
    rng = random.Random(seed)
    times = sorted(rng.uniform(0, arrival_seconds) for _ in range(count))
    return [Buyer(n, t, rng.randint(1, 4)) for n, t in enumerate(times)]


def out_of_order(buyers: list[Buyer]) -> tuple[int, int]:
    """Pairs where one buyer had its place before the other even asked (A answered before
    B sent), yet B's place comes first: (such pairs, all such ordered pairs). Admission
    follows places, so this counts buyers admitted out of arrival order."""
    joined = [b for b in buyers if b.place is not None]
    if not joined:
        return 0, 0
    size = max(b.place for b in joined) + 1
    tree = [0] * (size + 1)

    def add(place: int) -> None:
        while place <= size:
            tree[place] += 1
            place += place & -place

    def upto(place: int) -> int:
        total = 0
        while place > 0:
            total += tree[place]
            place -= place & -place
        return total

    answered = sorted(joined, key=lambda b: b.join_answered)
    inverted = ordered = added = 0
    for b in sorted(joined, key=lambda b: b.join_sent):
        while added < len(answered) and answered[added].join_answered < b.join_sent:
            add(answered[added].place)
            added += 1
        ordered += added
        inverted += added - upto(b.place)  # earlier-answered buyers whose place is after b's
    return inverted, ordered


def quantiles(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)  # noqa: E731
    return {
        "p50": pick(0.50),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": round(ordered[-1] * 1000, 1),
        "n": len(ordered),
    }
