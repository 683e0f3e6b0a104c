"""The edge from outside: a real nginx with nchan (scripts/edge/nginx.conf.template) on
127.0.5.x in front of a real gunicorn, the publisher between them.

What is the same for everyone comes from the edge's cache, one origin request per key per
second however many ask (counted in the origin's access log), and stays served while the
origin is down; the tier list's changes are published once and reach every subscriber,
over SSE and over a long-poll, and again after an edge worker is killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest

from scripts.edge.config import Edge, installed
from scripts.edge.publisher import Publisher
from scripts.harness.processes import (
    call,
    free_port,
    kill_group,
    run_projection_process,
    start_gunicorn,
    stop,
    wait_for,
    wait_until_up,
)

EDGE_HOST = "127.0.5.1"
TIERS = "GA:10.00:1000,VIP:50.00:100"


@pytest.fixture(scope="module", autouse=True)
def nginx_with_nchan() -> None:
    if not installed():
        pytest.fail("nginx and libnginx-mod-nchan are required (scripts/harness/prepare_tests.sh installs them)")


class Origin:
    """A gunicorn serving the app (and on PostgreSQL the projection process), with an access log."""

    def __init__(self, base: str, server, log: Path) -> None:
        self.base, self.server, self.log = base, server, log
        self.address = base.removeprefix("http://")

    def hits(self, path: str) -> int:
        """Requests for exactly ``path`` that reached the origin."""
        return self.log.read_text().count(f'"GET {path} HTTP/1.1"') if self.log.exists() else 0

    def book(self, tier: str = "VIP", quantity: int = 1) -> None:
        reply = call(
            self.base + "/api/tickets/book",
            {"userId": f"user-{time.monotonic_ns()}", "tier": tier, "quantity": quantity},
        )
        assert reply.status == 201, reply.body


@contextmanager
def origin_server(store_env: dict[str, str], folder: Path) -> Iterator[Origin]:
    log = folder / "access.log"
    env = {**store_env, "DEMO_TIERS": TIERS, "GUNICORN_ACCESSLOG": str(log), "BOOKING_RATE_LIMIT": ""}
    projector = run_projection_process(env) if store_env["PERSISTENCE_MODULE"] == "eventsourcing.postgres" else None
    port = free_port()  # not a socket this process holds: a lost host must refuse connections
    with open(folder / "gunicorn.log", "w") as output:
        server = start_gunicorn(env, output, port)
        try:
            wait_until_up(f"http://127.0.0.1:{port}/health", server)
            yield Origin(f"http://127.0.0.1:{port}", server, log)
        finally:
            stop(server)
            if projector is not None:
                stop(projector)


@contextmanager
def edge_before(origin: Origin, folder: Path, **settings) -> Iterator[Edge]:
    edge = Edge(
        folder / "edge",
        listen=f"{EDGE_HOST}:{free_port()}",
        publish_listen=f"{EDGE_HOST}:{free_port()}",
        origins=[origin.address],
        **settings,
    )
    try:
        yield edge.start()
    finally:
        edge.stop()


@pytest.fixture
def origin(store_env, tmp_path) -> Iterator[Origin]:
    with origin_server(store_env, tmp_path) as served:
        yield served


@pytest.fixture
def edge(origin, tmp_path) -> Iterator[Edge]:
    with edge_before(origin, tmp_path) as running:
        yield running


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as answer:
        return answer.status, answer.read(), dict(answer.headers)


def burst(url: str, clients: int) -> list[int]:
    """``clients`` requests for ``url`` released at the same moment; their statuses."""
    ready = threading.Barrier(clients)

    def one(_: int) -> int:
        ready.wait()
        return get(url)[0]

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(clients)))


COLD_KEYS = [f"/api/tickets?cold={n}" for n in range(5)]  # each a cache entry of its own


def test_the_tier_list_is_served_from_the_cache_with_one_origin_request_per_second(origin, edge):
    for path in COLD_KEYS:
        assert burst(f"http://{edge.listen}{path}", 64) == [200] * 64
    assert [origin.hits(path) for path in COLD_KEYS] == [1] * 5  # the others waited for that one
    started, answered = time.monotonic(), 0
    while time.monotonic() - started < 3:
        answered += sum(status == 200 for status in burst(f"http://{edge.listen}/api/tickets", 16))
    assert answered >= 200
    assert origin.hits("/api/tickets") <= 1 + 4  # at most one a second after the first
    status, body, headers = get(f"http://{edge.listen}/api/events/main/tickets")
    assert status == 200 and json.loads(body)[0]["tier"] in ("GA", "VIP")


def test_the_booking_page_is_served_from_the_cache(origin, edge):
    """An audience arriving costs the origin one page, not one each (found by the audience
    bench: at 10,000 users the origin served 333 pages a second)."""
    assert burst(f"http://{edge.listen}/", 64) == [200] * 64
    status, body, headers = get(f"http://{edge.listen}/")
    assert status == 200 and b"<html" in body.lower() and headers["X-Cache"] == "HIT"
    assert origin.hits("/") == 1


def test_without_the_cache_lock_a_cold_burst_reaches_the_origin_many_times(origin, tmp_path):
    with edge_before(origin, tmp_path, cache_lock=False) as unlocked:
        for path in COLD_KEYS:
            assert burst(f"http://{unlocked.listen}{path}", 64) == [200] * 64
    assert sum(origin.hits(path) for path in COLD_KEYS) > len(COLD_KEYS)


def test_the_cached_list_and_page_are_served_while_the_web_host_is_lost(origin, edge):
    _, before, _ = get(f"http://{edge.listen}/api/tickets")
    _, script, _ = get(f"http://{edge.listen}/static/app.js")
    _, page, _ = get(f"http://{edge.listen}/")
    kill_group(origin.server)  # the host's gunicorn, master and workers, gone at once
    time.sleep(2.5)  # past the copy's second (nginx counts it in whole seconds: up to 2 s)
    for _ in range(5):
        status, body, headers = get(f"http://{edge.listen}/api/tickets")
        assert (status, body) == (200, before) and headers["X-Cache"] in ("UPDATING", "STALE")
    assert get(f"http://{edge.listen}/static/app.js")[1] == script
    assert get(f"http://{edge.listen}/")[1] == page


@contextmanager
def publishing(origin: Origin, edge: Edge) -> Iterator[Publisher]:
    publisher = Publisher([origin.base], [f"http://{edge.publish_listen}/publish/tiers"])
    halt = threading.Event()
    thread = threading.Thread(target=publisher.run, args=(halt, 0.05), daemon=True)
    thread.start()
    try:
        yield publisher
    finally:
        halt.set()
        thread.join(timeout=10)


def vip_left(line: bytes) -> int:
    return next(t["availableQuantity"] for t in json.loads(line) if t["tier"] == "VIP")


async def subscribers(
    url: str, count: int, wanted: int, seconds: float, seen: list[list[int]] | None = None
) -> list[list[int]]:
    """``count`` SSE subscribers (reconnecting as EventSource does); each one's VIP counts
    seen, until each has seen ``wanted`` or ``seconds`` passed. ``seen``, given, fills as
    they go (another thread can wait for every first count)."""
    seen = [[] for _ in range(count)] if seen is None else seen
    deadline = time.monotonic() + seconds

    async def one(n: int, session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline and wanted not in seen[n]:
            try:
                async with session.get(url, headers={"Accept": "text/event-stream"}) as answer:
                    async for line in answer.content:
                        if line.startswith(b"data: "):
                            seen[n].append(vip_left(line[6:]))
                            if wanted in seen[n]:
                                return
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)

    timeout = aiohttp.ClientTimeout(total=seconds)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=count), timeout=timeout) as session:
        await asyncio.gather(*(one(n, session) for n in range(count)), return_exceptions=True)
    return seen


def channel(edge: Edge) -> dict:
    return json.loads(get(f"http://{edge.publish_listen}/publish/tiers", {"Accept": "text/json"})[1])


def test_a_change_published_once_reaches_every_sse_subscriber_and_a_long_poller(origin, edge):
    stream = f"http://{edge.listen}/api/tickets/stream"
    with publishing(origin, edge) as publisher:
        wait_for(lambda: publisher.published[publisher.edges[0]] is not None, what="the first publication")
        status, first, headers = get(stream)  # a long-poll: the latest at once
        assert status == 200 and vip_left(first) == 100
        poller = ThreadPoolExecutor(1).submit(
            get, stream, {"If-None-Match": headers["Etag"], "If-Modified-Since": headers["Last-Modified"]}
        )
        followers = ThreadPoolExecutor(1).submit(asyncio.run, subscribers(stream, 200, 99, 20))
        wait_for(lambda: channel(edge)["subscribers"] >= 201, what="every subscriber")
        published = channel(edge)["messages"], channel(edge)["last_message_id"]
        assert publisher.publications == 1
        origin.book("VIP")
        seen = followers.result(timeout=30)
        assert all(counts[0] == 100 and counts[-1] == 99 for counts in seen)
        assert vip_left(poller.result(timeout=10)[1]) == 99
        assert channel(edge)["last_message_id"] != published[1]
        assert publisher.publications == 2  # the first list, then the one change
    assert origin.hits("/api/tickets/stream") == 0  # the audience never reached the origin


def test_subscribers_get_the_latest_again_after_an_edge_worker_is_killed(origin, edge):
    stream = f"http://{edge.listen}/api/tickets/stream"
    with publishing(origin, edge) as publisher:
        wait_for(lambda: publisher.published[publisher.edges[0]] is not None, what="the first publication")
        followers = ThreadPoolExecutor(1).submit(asyncio.run, subscribers(stream, 50, 98, 30))
        wait_for(lambda: channel(edge)["subscribers"] >= 50, what="every subscriber")
        workers = edge.worker_pids()
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: len(set(edge.worker_pids()) - set(workers)) == len(workers), what="new workers")
        origin.book("VIP", 2)
        seen = followers.result(timeout=40)
    assert all(counts[-1] == 98 for counts in seen)
