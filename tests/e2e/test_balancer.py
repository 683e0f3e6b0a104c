"""Behind the cluster's HAProxy, and behind its edge, every buyer keeps a rate limit of their
own: a real HAProxy with the cluster's HTTP section (``scripts.cluster.layout.http_section``)
and a real nginx edge (``scripts.edge.config``, reaching the web host from its own address)
in front of a real web host trusting only those two (``TRUSTED_PROXIES``), clients on several
loopback addresses of their own, the default limit (20 bookings a second per client) on."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import pytest

from scripts.cluster.layout import http_section
from scripts.edge.config import Edge
from scripts.harness.processes import free_port, start_gunicorn, stop, wait_for, wait_until_up
from tests.conftest import postgres_schema
from tests.e2e.test_rate_limits import REDIS, require_redis

BALANCER, WEB_HOST, EDGE = "127.0.1.200", "127.0.1.210", "127.0.1.206"
GREEDY, OTHERS, FORGER = "127.0.1.201", ("127.0.1.202", "127.0.1.203", "127.0.1.204"), "127.0.1.205"
BURST = 60  # bookings a greedy client sends at once: three times the default limit of a second
LET_THROUGH = 40  # at most: a burst may straddle two of the limit's one-second windows


def book(source: str, host: str, port: int, headers: dict[str, str] | None = None) -> int:
    """One booking over a connection from ``source``; its status."""
    connection = http.client.HTTPConnection(host, port, timeout=30, source_address=(source, 0))
    try:
        body = json.dumps({"userId": f"u-{uuid.uuid4().hex[:8]}", "tier": "GA", "quantity": 1})
        connection.request("POST", "/api/tickets/book", body, {"Content-Type": "application/json", **(headers or {})})
        return connection.getresponse().status
    finally:
        connection.close()


def answers(host: str, port: int) -> bool:
    try:
        connection = http.client.HTTPConnection(host, port, timeout=2)
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def web_host(tmp_path_factory) -> Iterator[int]:
    """One web host on its own address, PostgreSQL behind it, rate limits in Redis as the
    cluster's are, X-Forwarded-For believed from the balancer's address only."""
    require_redis()
    folder = tmp_path_factory.mktemp("balancer")
    schema = postgres_schema()
    env = {
        **next(schema),
        "DEMO_TIERS": "GA:1.00:100000",
        "RATE_LIMIT_STORAGE_URI": REDIS,
        "RATE_LIMIT_KEY_PREFIX": uuid.uuid4().hex,
        "TRUSTED_PROXIES": f"{BALANCER},{EDGE}",
        "PROJECT_IN_PROCESS": "yes",
    }
    with socket.socket() as sock, open(folder / "web.log", "w") as log:
        sock.bind((WEB_HOST, 0))
        sock.listen(512)
        sock.set_inheritable(True)
        server = start_gunicorn(env, log, sock)
        port = sock.getsockname()[1]
        try:
            wait_until_up(f"http://{WEB_HOST}:{port}/health", server, timeout=60)
            yield port
        finally:
            stop(server)
            next(schema, None)


def haproxy(web_port: int, folder: Path, forwardfor: bool = True) -> Iterator[int]:
    port = free_port()
    section = http_section(BALANCER, [f"{WEB_HOST}:{web_port}"], port)
    if not forwardfor:
        section = section.replace("  option forwardfor\n", "")
    config = folder / "haproxy.cfg"
    config.write_text(f"defaults\n  timeout connect 2s\n  timeout check 2s\n\n{section}")
    process = subprocess.Popen(["haproxy", "-f", str(config), "-db"], stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: answers(BALANCER, port), 30, "HAProxy to answer")
        yield port
    finally:
        process.kill()
        process.wait()


@pytest.fixture
def balancer(web_host, tmp_path) -> Iterator[int]:
    yield from haproxy(web_host, tmp_path)


def edge(web_port: int, folder: Path, bound: bool = True) -> Iterator[int]:
    """The cluster's edge (``scripts/cluster/edge.py``) in front of the web host; ``bound``:
    reaching it from the edge's own address, as the cluster's does."""
    port = free_port()
    settings = {
        "listen": f"{EDGE}:{port}",
        "publish_listen": f"{EDGE}:{free_port()}",
        "origins": [f"{WEB_HOST}:{web_port}"],
    }
    running = Edge(folder, **settings, source=EDGE if bound else None).start()
    try:
        yield port
    finally:
        running.stop()


def greedy_then_others(port: int, host: str = BALANCER) -> tuple[Counter, list[int]]:
    """The greedy client sends a burst at once; the moment it has had a 429, while the
    rest of its burst is still in flight, each other client books once. The greedy
    client's statuses, and the others'."""
    with ThreadPoolExecutor(BURST) as pool:
        burst = [pool.submit(book, GREEDY, host, port) for _ in range(BURST)]
        next((f for f in as_completed(burst) if f.result() == 429), None)
        others = [book(source, host, port) for source in OTHERS]
        return Counter(f.result() for f in burst), others


def forged_burst(host: str, port: int) -> Counter:
    """The forger's burst, each booking claiming another client address."""
    with ThreadPoolExecutor(BURST) as pool:
        forged = [{"X-Forwarded-For": f"198.51.100.{n % 250}"} for n in range(BURST)]
        return Counter(pool.map(lambda headers: book(FORGER, host, port, headers), forged))


@pytest.mark.postgres
@pytest.mark.slow
def test_a_client_over_its_limit_never_costs_another_client_a_booking(balancer):
    for _ in range(3):
        greedy, others = greedy_then_others(balancer)
        assert greedy[429] > 0 and greedy[201] <= LET_THROUGH, greedy  # the limit is on, and counts the greedy one
        assert others == [201] * len(OTHERS)


@pytest.mark.postgres
@pytest.mark.slow
def test_without_forwardfor_every_client_shares_the_balancers_count(web_host, tmp_path):
    """The guard's check: the same traffic through a balancer that does not say who the
    client is. Every client is the balancer, so one greedy client refuses the others."""
    refused = 0
    for port in haproxy(web_host, tmp_path, forwardfor=False):
        for _ in range(3):
            _, others = greedy_then_others(port)
            refused += others.count(429)
    assert refused > 0


@pytest.mark.postgres
@pytest.mark.slow
def test_a_client_faking_x_forwarded_for_gains_nothing(balancer, web_host):
    """Straight to the web host, a forged header is ignored (the client is not the
    balancer); through the balancer, only the address HAProxy saw counts."""
    direct = forged_burst(WEB_HOST, web_host)
    assert direct[429] > 0 and direct[201] <= LET_THROUGH, direct
    through = forged_burst(BALANCER, balancer)
    assert through[429] > 0 and through[201] <= LET_THROUGH, through


@pytest.mark.postgres
@pytest.mark.slow
def test_behind_the_edge_too_a_client_over_its_limit_never_costs_another_client_a_booking(web_host, tmp_path):
    for port in edge(web_host, tmp_path):
        for _ in range(3):
            greedy, others = greedy_then_others(port, EDGE)
            assert greedy[429] > 0 and greedy[201] <= LET_THROUGH, greedy
            assert others == [201] * len(OTHERS)


@pytest.mark.postgres
@pytest.mark.slow
def test_an_edge_that_reaches_the_web_host_from_another_address_shares_one_count(web_host, tmp_path):
    """The guard's check: without ``proxy_bind`` the edge's connections leave from
    127.0.0.1, which the web host does not trust, so every client behind it is one."""
    refused = 0
    for port in edge(web_host, tmp_path, bound=False):
        for _ in range(3):
            _, others = greedy_then_others(port, EDGE)
            refused += others.count(429)
    assert refused > 0
