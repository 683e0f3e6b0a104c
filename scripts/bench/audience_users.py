"""The audience's people, in one worker process: each an asyncio task living a browser's life.

A user arrives at its scheduled time, opens the page (``GET /``, then the tier list), and
follows availability until it has heard the sale's final figure (the store's, which the
parent hands over once every buyer is done) or the run's time is up: over a stream (the edge's, or the origin's
``/api/tickets/stream``), or by polling the list (the baseline's way). A buyer, at its
scheduled time in the sale, books one ticket: straight away, or, when a waiting room is on,
after joining the queue and following its turn (its queue ticket's stream, or, as the page
does where the room publishes its frontier, ``GET /api/queue/frontier`` every second) until
it comes, then collecting its pass. Everything is open loop: a latency counts from when the
step was due, so a client that falls behind shows as latency too. Each process counts what
it saw in a ``Tally`` of plain values, merged by the parent (``scripts/bench/audience_tally.py``).
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from scripts.bench.audience_sse import BROKEN, ENDED, subscribe

RETRY_SECONDS = 1.0  # EventSource's retry (the origin's streams say ``retry: 1000``)
TIMEOUT_SECONDS = 30.0
LAG_TICK_SECONDS = 0.05
FRONTIER_SECONDS = 1.0  # how often the page looks at the room's frontier (its max-age)


@dataclass(frozen=True)
class Plan:
    """What every worker of one run shares; times are wall-clock (``time.time()``): one clock
    for every process of the host."""

    base: str  # the page, the tier list, the queue and bookings: the edge's address, or the origin's
    stream_url: str | None  # availability's stream; None: poll the list every ``poll_seconds``
    frontier_polled: bool  # waiting buyers look at the room's frontier every second, or follow their ticket's stream
    tier: str
    room: bool
    page: bool  # the page's own GET / (the baseline has no page)
    users: int
    buyers: int
    start: float  # when the first user arrives (the parent sets it once every worker is ready)
    arrive_seconds: float
    sale_after: float  # from the start
    sale_seconds: float
    end_after: float  # from the start: the streams close, whoever has not heard the end by then missed it
    poll_seconds: float = 2.0
    looks: bool = True  # the page (if ``page``) and the list before following; off: followers only (``--follow-only``)

    @property
    def sale_at(self) -> float:
        return self.start + self.sale_after

    @property
    def end_at(self) -> float:
        return self.start + self.end_after

    def arrives(self, user: int) -> float:
        return self.start + user * self.arrive_seconds / self.users

    def buy_times(self) -> dict[int, float]:
        """When each buyer books, by user: the buyers spread evenly over the users and over the sale."""
        return {
            k * self.users // self.buyers: self.sale_at + k * self.sale_seconds / self.buyers
            for k in range(self.buyers)
        }


@dataclass
class Tally:
    """What one process's users saw, as plain values (sent to the parent and merged)."""

    users: int = 0
    errors: Counter = field(default_factory=Counter)  # kind -> count: connect, timeout, broken, 5xx, http <status>
    statuses: Counter = field(default_factory=Counter)  # "endpoint status" -> count
    latencies: dict[str, list[float]] = field(default_factory=dict)  # endpoint -> seconds, from when due
    news: Counter = field(default_factory=Counter)  # (previous available, available, seen at ms) -> followers
    last_seen: Counter = field(default_factory=Counter)  # a follower's last available at the end -> followers
    bookings: list[tuple[int, float, int]] = field(default_factory=list)  # 201s: (remaining, answered at, quantity)
    waiting_requests: list[int] = field(default_factory=list)  # per buyer who waited: requests between join and pass
    streams: Counter = field(default_factory=Counter)  # opened, ended (by the server), reopened
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    lag_ms: list[float] = field(default_factory=list)  # how late this process's loop woke, every 50 ms

    def took(self, endpoint: str, seconds: float) -> None:
        self.latencies.setdefault(endpoint, []).append(seconds)


async def until(at: float) -> None:
    await asyncio.sleep(max(0.0, at - time.time()))


class Availability:
    """The one tier's ``availableQuantity`` in a list as sent (JSON bytes): each distinct
    message is parsed once per process, however many followers receive it."""

    def __init__(self, tier: str) -> None:
        self.tier, self.known = tier, {}

    def __call__(self, message: bytes) -> int | None:
        if (value := self.known.get(message)) is None:
            if len(self.known) > 10_000:
                self.known.clear()
            items = json.loads(message)
            items = items.get("tiers", items) if isinstance(items, dict) else items
            value = self.known[message] = next((t["availableQuantity"] for t in items if t["tier"] == self.tier), -1)
        return None if value == -1 else value


class Ending:
    """The sale's final figure, once the parent knows it."""

    final: int | None = None


class Follower:
    """One user's view of availability: the news it heard, each counted with when it came;
    ``caught_up`` once it has heard the sale's final figure."""

    def __init__(self, tally: Tally, availability: Availability, ending: Ending) -> None:
        self.tally, self.availability, self.ending = tally, availability, ending
        self.last: int | None = None
        self.caught_up: asyncio.Future = asyncio.get_running_loop().create_future()

    def heard(self, message: bytes) -> None:
        value = self.availability(message)
        if value is None:
            return
        if self.last is not None and value != self.last:
            self.tally.news[(self.last, value, round(time.time() * 1000))] += 1
        self.last = value
        self.check()

    def check(self) -> None:
        if self.last is not None and self.last == self.ending.final and not self.caught_up.done():
            self.caught_up.set_result(None)


class Crowd:
    """One worker's users, their HTTP sessions (one per source address) and what they saw."""

    def __init__(
        self,
        plan: Plan,
        users: list[int],
        sessions: list[aiohttp.ClientSession],
        sources: list[str],
        bought: Callable[[], None],
    ) -> None:
        self.plan, self.sessions, self.sources, self.bought = plan, sessions, sources, bought
        self.tally = Tally()
        self.buy_times = plan.buy_times()
        self.ending = Ending()
        self.followers: list[Follower] = []
        self.availability = Availability(plan.tier)
        self.buyers_left = sum(1 for user in users if user in self.buy_times)
        if not self.buyers_left:
            bought()

    def buyer_done(self) -> None:
        self.buyers_left -= 1
        if not self.buyers_left:
            self.bought()

    async def watch_the_end(self, final: Callable[[], int | None]) -> None:
        """Look for the sale's final figure every 0.1 s; once known, every follower that has
        heard it already is done."""
        while (figure := final()) is None:
            await asyncio.sleep(0.1)
        self.ending.final = figure
        for follower in self.followers:
            follower.check()

    async def call(self, user: int, endpoint: str, method: str, path: str, due: float, **kwargs: Any):
        """One request; its latency from ``due``; (status, JSON body or None), or None on a connection error."""
        session = self.sessions[user % len(self.sessions)]
        try:
            async with session.request(method, self.plan.base + path, **kwargs) as answer:
                body = await answer.read()
                status = answer.status
        except TimeoutError:
            self.tally.errors["timeout"] += 1
            return None
        except aiohttp.ClientConnectorError:
            self.tally.errors["connect"] += 1
            return None
        except aiohttp.ClientError as error:
            self.tally.errors[f"broken {type(error).__name__}"] += 1
            return None
        self.tally.took(endpoint, time.time() - due)
        self.tally.statuses[f"{endpoint} {status}"] += 1
        if status >= 500:
            self.tally.errors["5xx"] += 1
        try:
            return status, json.loads(body) if body and body[:1] in b"[{" else None
        except ValueError:
            return status, None

    async def life(self, user: int) -> None:
        plan = self.plan
        arrives = plan.arrives(user)
        await until(arrives)
        if plan.looks:
            if plan.page:
                await self.call(user, "page", "GET", "/", arrives)
            await self.call(user, "list", "GET", "/api/tickets", time.time())
        follower = Follower(self.tally, self.availability, self.ending)
        self.followers.append(follower)
        following = asyncio.create_task(self.follow(user, follower, time.time()))
        if (buy_at := self.buy_times.get(user)) is not None:
            await until(buy_at)
            await (self.queue_then_book(user, buy_at) if plan.room else self.book(user, buy_at, {}))
            self.buyer_done()
        await following
        self.tally.last_seen[follower.last] += 1

    async def follow(self, user: int, follower: Follower, opened: float) -> None:
        """Follow availability until the run's end: its stream (reopened as EventSource
        does when it ends or breaks), or a poll of the list."""
        if self.plan.stream_url is None:
            return await self.poll(user, follower)
        source = self.sources[user % len(self.sources)]
        first = True

        def on_data(message: bytes) -> None:
            nonlocal first
            if first:
                self.tally.took("first news", time.time() - opened)
                first = False
            follower.heard(message)

        while (left := self.plan.end_at - time.time()) > 0 and not follower.caught_up.done():
            try:
                stream = await subscribe(self.plan.stream_url, on_data, source)
            except TimeoutError:
                self.tally.errors["connect"] += 1
                await asyncio.sleep(RETRY_SECONDS)
                continue
            except OSError:
                self.tally.errors["connect"] += 1
                await asyncio.sleep(RETRY_SECONDS)
                continue
            self.tally.streams["opened"] += 1
            await asyncio.wait([stream.closed, follower.caught_up], timeout=left, return_when=asyncio.FIRST_COMPLETED)
            if not stream.closed.done():
                stream.finish(ENDED)
                return
            outcome = stream.closed.result()
            if outcome == ENDED:
                self.tally.streams["ended by the server"] += 1
            elif outcome == BROKEN:
                self.tally.errors["broken stream"] += 1
            else:
                status = outcome[1]
                self.tally.errors["5xx" if status >= 500 else f"stream {status}"] += 1
            await asyncio.sleep(RETRY_SECONDS)

    async def poll(self, user: int, follower: Follower) -> None:
        """The list every ``poll_seconds``, with the ETag it was given, as a browser's cache sends
        it; as the page does, the next look is not sent before the last one's answer."""
        etag: str | None = None
        session = self.sessions[user % len(self.sessions)]
        due = time.time() + self.plan.poll_seconds * (user % 97) / 97  # not all at the same moment
        while due < self.plan.end_at and not follower.caught_up.done():
            await until(due)
            due = max(due + self.plan.poll_seconds, time.time())
            try:
                headers = {"If-None-Match": etag} if etag else {}
                async with session.get(self.plan.base + "/api/tickets", headers=headers) as answer:
                    body = await answer.read()
                    self.tally.statuses[f"poll {answer.status}"] += 1
                    if answer.status == 200:
                        follower.heard(body)
                        etag = answer.headers.get("ETag", etag)
                    elif answer.status >= 500:
                        self.tally.errors["5xx"] += 1
            except aiohttp.ClientConnectorError:
                self.tally.errors["connect"] += 1
            except (TimeoutError, aiohttp.ClientError):
                self.tally.errors["broken poll"] += 1

    async def book(self, user: int, due: float, headers: dict[str, str]) -> None:
        body = {"userId": f"audience-{user}", "tier": self.plan.tier, "quantity": 1}
        answer = await self.call(user, "book", "POST", "/api/tickets/book", due, json=body, headers=headers)
        if answer is not None and answer[0] == 201:
            self.tally.bookings.append((answer[1]["remainingQuantity"], time.time(), answer[1]["bookedQuantity"]))

    async def queue_then_book(self, user: int, due: float) -> None:
        """Join, follow the frontier until admitted (or sold out), collect the pass, book."""
        answer = await self.call(user, "join", "POST", "/api/queue", due, json={"userId": f"audience-{user}"})
        if answer is None or answer[0] not in (200, 201):
            return
        ticket = answer[1]
        if ticket["state"] == "waiting":
            requests, ticket = await self.wait_turn(user, ticket)
            self.tally.waiting_requests.append(requests)
        if ticket["state"] == "admitted" and ticket.get("queuePass"):
            await self.book(user, time.time(), {"Queue-Pass": ticket["queuePass"]})
        else:
            self.tally.statuses[f"queue {ticket['state']}"] += 1

    async def wait_turn(self, user: int, ticket: dict) -> tuple[int, dict]:
        """The ticket once its turn came (with its pass) or the sale ended, and how many
        requests for its own ticket it sent while waiting: its stream, each time it was opened,
        or none when it follows the room's frontier (the same for everyone, which an edge
        answers from its cache: those looks are counted apart, as ``frontier``)."""
        if not self.plan.frontier_polled:
            requests = 0
            while ticket["state"] == "waiting" and time.time() < self.plan.end_at:
                requests += 1
                url = f"{self.plan.base}/api/queue/{ticket['ticketId']}/stream"
                ticket = await self.last_event(url, ticket, lambda t: t["state"] != "waiting")
            return requests, ticket
        number = ticket.get("number") or ticket["position"] + ticket["admitted"]
        while time.time() < self.plan.end_at:
            answer = await self.call(user, "frontier", "GET", "/api/queue/frontier", time.time())
            frontier = answer[1] if answer is not None and answer[0] == 200 and answer[1] else {}
            if frontier.get("soldOut") or (frontier.get("admitted") or 0) >= number:
                answer = await self.call(user, "pass", "GET", f"/api/queue/{ticket['ticketId']}", time.time())
                if answer is not None and answer[0] == 200 and answer[1]["state"] != "waiting":
                    return 0, answer[1]
            await asyncio.sleep(FRONTIER_SECONDS)
        return 0, ticket

    async def last_event(self, url: str, last: dict, enough) -> dict:
        """A stream's events until one is ``enough`` (or it ends): the last one."""
        seen = asyncio.get_running_loop().create_future()

        def on_data(message: bytes) -> None:
            nonlocal last
            last = json.loads(message)
            if enough(last) and not seen.done():
                seen.set_result(None)

        try:
            stream = await subscribe(url, on_data, self.sources[0])
        except (OSError, TimeoutError):
            self.tally.errors["connect"] += 1
            await asyncio.sleep(RETRY_SECONDS)
            return last
        left = max(0.0, self.plan.end_at - time.time())
        await asyncio.wait([seen, stream.closed], timeout=left, return_when=asyncio.FIRST_COMPLETED)
        outcome = stream.closed.result() if stream.closed.done() else None
        stream.finish(ENDED)
        if outcome == BROKEN and not seen.done():
            self.tally.errors["broken stream"] += 1
        return last

    async def measure_lag(self) -> None:
        """How late the loop wakes: a client too busy to keep its schedule shows here."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LAG_TICK_SECONDS
            await asyncio.sleep(LAG_TICK_SECONDS)
            self.tally.lag_ms.append((loop.time() - due) * 1000)


async def run_crowd(
    plan: Plan, users: list[int], sources: list[str], bought: Callable[[], None], final: Callable[[], int | None]
) -> Tally:
    """These ``users`` of the plan, from these source addresses; what they saw. ``bought`` is
    called once all of them who buy are done; ``final`` says the sale's final figure once
    the parent knows it (None before)."""
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    sessions = [
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=2000, local_addr=(source, 0), ttl_dns_cache=None), timeout=timeout
        )
        for source in sources
    ]
    crowd = Crowd(plan, users, sessions, sources, bought)
    try:
        await until(plan.start)
        used, started = resource.getrusage(resource.RUSAGE_SELF), time.time()
        background = [asyncio.create_task(crowd.measure_lag()), asyncio.create_task(crowd.watch_the_end(final))]
        await asyncio.gather(*(crowd.life(user) for user in users))
        for task in background:
            task.cancel()
        now = resource.getrusage(resource.RUSAGE_SELF)
        crowd.tally.cpu_seconds = now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime
        crowd.tally.wall_seconds = time.time() - started
    finally:
        for session in sessions:
            await session.close()
    crowd.tally.users = len(users)
    return crowd.tally
