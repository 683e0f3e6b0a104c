"""The audience's counting, end to end at a small size: 200 users in two worker processes
against a stand-in origin whose faults the test chooses. An honest origin balances with no
error and every follower at the final figure; a stream starved of news is a follower that
missed the end; an oversold tier is caught; a 500 and a broken stream are counted, each by
its kind, exactly as many as were made. (Against the real servers: tests/e2e/test_audience_servers.py.)"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from aiohttp import web

from scripts.bench.audience import run_crowd_processes
from scripts.bench.audience_tally import merge, summary
from scripts.bench.audience_users import Plan

pytestmark = pytest.mark.slow

USERS, BUYERS, CAPACITY = 200, 50, 40


@dataclass
class Faults:
    starve_streams: int = 0  # this many streams get their first list and no news after it
    break_streams: int = 0  # this many streams are cut after their first list
    oversell: bool = False  # bookings beyond the capacity are confirmed
    fail_every: int = 0  # every n-th booking answers 500


class FakeOrigin:
    """The tier list, its stream, the page and bookings of one tier, with ``faults``."""

    def __init__(self, faults: Faults) -> None:
        self.faults, self.available, self.sold = faults, CAPACITY, 0
        self.streams = self.bookings = 0
        self.changed: asyncio.Condition | None = None

    def listing(self) -> bytes:
        return json.dumps([{"tier": "ONSALE", "availableQuantity": self.available}]).encode()

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(text="<html></html>", content_type="text/html")

    async def tiers(self, request: web.Request) -> web.Response:
        return web.Response(body=self.listing(), content_type="application/json")

    async def stream(self, request: web.Request) -> web.StreamResponse:
        self.streams += 1
        number = self.streams
        answer = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await answer.prepare(request)
        sent = self.listing()
        await answer.write(b"data: " + sent + b"\n\n")
        if number <= self.faults.break_streams:
            request.transport.close()
            return answer
        starved = number <= self.faults.break_streams + self.faults.starve_streams
        assert self.changed is not None
        try:
            while True:
                async with self.changed:
                    await self.changed.wait_for(lambda last=sent: self.listing() != last)
                sent = self.listing()
                if not starved:
                    await answer.write(b"data: " + sent + b"\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            return answer

    async def book(self, request: web.Request) -> web.Response:
        self.bookings += 1
        if self.faults.fail_every and self.bookings % self.faults.fail_every == 0:
            return web.json_response({"error": {"code": "BOOM"}}, status=500)
        if self.available < 1 and not self.faults.oversell:
            return web.json_response({"error": {"code": "INSUFFICIENT_TICKETS"}}, status=422)
        self.available -= 1
        self.sold += 1
        assert self.changed is not None
        async with self.changed:
            self.changed.notify_all()
        return web.json_response({"bookedQuantity": 1, "remainingQuantity": self.available}, status=201)

    def books(self) -> dict:
        """What the store would say: the origin's own count, not the clients'."""
        return {"sold": self.sold, "capacity": CAPACITY, "available": self.available, "ok": True}


@contextmanager
def serving(origin: FakeOrigin) -> Iterator[str]:
    loop = asyncio.new_event_loop()
    started = threading.Event()
    address: list[str] = []

    async def start() -> web.AppRunner:
        origin.changed = asyncio.Condition()
        app = web.Application()
        app.router.add_get("/", origin.page)
        app.router.add_get("/api/tickets", origin.tiers)
        app.router.add_get("/api/tickets/stream", origin.stream)
        app.router.add_post("/api/tickets/book", origin.book)
        runner = web.AppRunner(app, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.6.1", 0, backlog=1024)
        await site.start()
        address.append(f"http://127.0.6.1:{site._server.sockets[0].getsockname()[1]}")  # type: ignore[union-attr]
        return runner

    def serve() -> None:
        asyncio.set_event_loop(loop)
        runner = loop.run_until_complete(start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield address[0]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def run(faults: Faults, looks: bool = True) -> dict:
    origin = FakeOrigin(faults)
    with serving(origin) as base:
        plan = Plan(
            base=base,
            stream_url=base + "/api/tickets/stream",
            frontier_polled=False,
            tier="ONSALE",
            room=False,
            page=True,
            users=USERS,
            buyers=BUYERS,
            start=0.0,
            arrive_seconds=1.5,
            sale_after=1.5,
            sale_seconds=1.5,
            end_after=8.0,
            looks=looks,
        )
        run = run_crowd_processes(plan, 2, origin.books)
        return summary(merge(run.tallies), run.books, run.start + plan.sale_after)


def test_an_honest_origin_balances_with_no_error_and_every_follower_at_the_end():
    result = run(Faults())
    assert result["users"] == USERS
    assert result["sold_out_and_balanced"] and result["sold_by_201s"] == CAPACITY
    assert result["statuses"]["book 201"] == CAPACITY and result["statuses"]["book 422"] == BUYERS - CAPACITY
    assert result["statuses"]["page 200"] == result["statuses"]["list 200"] == USERS
    assert result["errors"] == {} and result["followers_missed_the_end"] == 0
    assert result["news_ms"]["n"] >= CAPACITY and result["news_unattributed"] == 0
    assert result["streams"]["opened"] == USERS


def test_followers_only_ask_for_the_stream_alone_and_still_hear_the_end():
    result = run(Faults(), looks=False)
    assert not any(status.startswith(("page", "list")) for status in result["statuses"])
    assert result["streams"]["opened"] == USERS and result["followers_missed_the_end"] == 0
    assert result["errors"] == {} and result["sold_out_and_balanced"]


def test_followers_starved_of_news_are_counted_as_missing_the_end():
    result = run(Faults(starve_streams=3))
    assert result["followers_missed_the_end"] == 3
    assert result["errors"] == {} and result["sold_out_and_balanced"]


def test_an_oversold_tier_is_caught():
    result = run(Faults(oversell=True))
    assert result["oversold"] == BUYERS - CAPACITY
    assert not result["sold_out_and_balanced"]


def test_server_errors_and_broken_streams_are_counted_by_kind_exactly():
    result = run(Faults(fail_every=10, break_streams=4))
    assert result["errors"] == {"5xx": BUYERS // 10, "broken stream": 4}
    assert result["sold_out_and_balanced"]  # the 45 real attempts still sold the 40
    assert result["followers_missed_the_end"] == 0  # the broken ones came back, as EventSource does
