"""The tools the network benchmark trusts: the delaying proxy adds the round trip it is
asked for, keeps every byte in order, and counts round trips as a driver makes them; the
open-loop generator counts latency from when each request was due, not from when it
could be sent."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from scripts.harness import delay_proxy
from scripts.harness.processes import ROOT, free_port

RTT_MS = 40  # large beside this host's own scheduling noise


@pytest.fixture
def echo() -> Iterator[int]:
    """A TCP server that sends back whatever it gets."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def proxy(echo: int) -> Iterator[tuple[int, int, int]]:
    """The proxy in front of the echo server, on two ports counted apart, and its stats port."""
    ports = free_port(), free_port(), free_port()
    proc = delay_proxy.start(
        RTT_MS, f"127.0.0.1:{echo}", [f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}"], f"127.0.0.1:{ports[2]}"
    )
    yield ports
    proc.terminate()
    proc.wait(10)


def exchange(conn: socket.socket, data: bytes) -> bytes:
    conn.sendall(data)
    got = b""
    while len(got) < len(data):
        got += conn.recv(65536)
    return got


def counts(stats_port: int) -> dict:
    with socket.create_connection(("127.0.0.1", stats_port)) as conn:
        return json.loads(conn.makefile().readline())


def test_each_round_trip_takes_the_rtt_asked_for_and_bytes_keep_their_order(proxy):
    with socket.create_connection(("127.0.0.1", proxy[0])) as conn:
        exchange(conn, b"warm up")
        times, payloads = [], [bytes([n % 256]) * (1 + 5000 * n) for n in range(8)]
        for payload in payloads:
            started = time.perf_counter()
            assert exchange(conn, payload) == payload
            times.append((time.perf_counter() - started) * 1000)
    assert min(times) >= RTT_MS * 0.95  # the delay is never skipped
    assert sorted(times)[len(times) // 2] < RTT_MS * 2  # and not doubled (one way only)


def test_round_trips_are_counted_per_port_and_a_pipelined_flight_counts_once(proxy):
    first, second, stats = proxy
    with (
        socket.create_connection(("127.0.0.1", first)) as a,
        socket.create_connection(("127.0.0.1", second)) as b,
    ):
        for _ in range(3):
            exchange(a, b"query")
        a.sendall(b"one")  # two sends before any answer (40 ms away): one flight
        time.sleep(0.005)  # apart, not coalesced into one chunk
        a.sendall(b"two")
        got = b""
        while len(got) < 6:
            got += a.recv(100)
        assert got == b"onetwo"
        exchange(b, b"query")
    seen = counts(stats)
    assert seen[f"127.0.0.1:{first}"] == {"connections": 1, "round_trips": 4}
    assert seen[f"127.0.0.1:{second}"] == {"connections": 1, "round_trips": 1}


class OneAtATime(BaseHTTPRequestHandler):
    """Answers a booking 201 after 50 ms, one request at a time."""

    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            time.sleep(0.05)
        self.send_response(201)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def test_the_open_loop_counts_latency_from_when_each_request_was_due_not_when_it_could_go():
    """40 requests a second over one connection to a server that does 20: each request
    waits for the connection, as a closed loop's would, and would look 50 ms long from
    when it was sent; from when it was due, the later ones are seconds late."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), OneAtATime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        run = subprocess.run(
            [sys.executable, "-m", "scripts.bench.open_loop", f"http://127.0.0.1:{server.server_port}"]
            + ["--rate", "40", "--seconds", "2", "--connections", "1"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.shutdown()
    result = json.loads(run.stdout.splitlines()[-1])
    assert result["statuses"] == {"201": 80} and result["errors"] == 0
    assert result["latency_ms"]["p50"] >= 50  # every one waited at least its own 50 ms
    # the last is due at 1.975 s and done after 80 x 50 ms = 4 s of service: ~2 s late
    assert result["latency_ms"]["max"] >= 1500
