"""The tier list's stream on the origin alone, through a real gunicorn: the process's
reader writes each change straight to every stream's socket (web/http/tier_news.py
``Fed``), so what this checks is what a browser sees on the wire: every follower gets
the list and then the change, HTTP/1.1's chunks frame each event as gunicorn would, the
stream ends on time with its last chunk and the connection stays usable, and an HTTP/1.0
client gets the same events unframed."""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from scripts.harness.processes import wait_for
from tests.e2e.test_edge import origin_server, subscribers, vip_left

STREAM_SECONDS = 4


def read_until(sock: socket.socket, ending: bytes, seconds: float) -> bytes:
    """The bytes ``sock`` gives until they end with ``ending`` (or ``seconds`` pass)."""
    sock.settimeout(seconds)
    received = b""
    deadline = time.monotonic() + seconds
    while not received.endswith(ending) and time.monotonic() < deadline:
        part = sock.recv(65536)
        if not part:
            break
        received += part
    return received


def dechunked(body: bytes) -> tuple[list[bytes], bytes]:
    """The chunks of a chunked body, and what followed the last (zero) chunk."""
    chunks = []
    while True:
        size_line, body = body.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            return chunks, body
        chunks.append(body[:size])
        assert body[size : size + 2] == b"\r\n"
        body = body[size + 2 :]


def test_every_follower_gets_the_list_then_each_change_framed_as_sent_and_the_stream_ends_on_time(store_env, tmp_path):
    with origin_server({**store_env, "SSE_MAX_SECONDS": str(STREAM_SECONDS)}, tmp_path) as origin:
        wait_for(lambda: b"VIP" in urllib.request.urlopen(origin.base + "/api/tickets").read(), 20)  # projected
        host, port = origin.address.split(":")
        seen: list[list[int]] = [[] for _ in range(200)]
        followers = ThreadPoolExecutor(1).submit(
            asyncio.run, subscribers(origin.base + "/api/tickets/stream", 200, 99, 30, seen)
        )
        wait_for(lambda: all(seen), 20)  # every follower's stream is open: it has the list
        # Opened last, so that they do not end (STREAM_SECONDS) while the followers open.
        with socket.create_connection((host, int(port))) as raw, socket.create_connection((host, int(port))) as old:
            raw.sendall(b"GET /api/tickets/stream HTTP/1.1\r\nHost: origin\r\n\r\n")
            old.sendall(b"GET /api/tickets/stream HTTP/1.0\r\nHost: origin\r\n\r\n")
            for sock in (raw, old):  # each has the list before the change (looked at, not read)
                sock.settimeout(5)
                wait_for(lambda sock=sock: b"data: " in sock.recv(65536, socket.MSG_PEEK), 20)
            origin.book()
            seen = followers.result()
            on_the_wire = read_until(raw, b"0\r\n\r\n", STREAM_SECONDS + 5)
            unframed = read_until(old, b"\n\n", 1) + read_until(old, b"", STREAM_SECONDS + 5)  # to the close
            raw.sendall(b"GET /health HTTP/1.1\r\nHost: origin\r\n\r\n")
            after = read_until(raw, b"}", 5)

    assert all(counts[:1] == [100] and counts[-1] == 99 for counts in seen), [c for c in seen if c[-1:] != [99]][:3]
    head, body = on_the_wire.split(b"\r\n\r\n", 1)
    assert b"Transfer-Encoding: chunked" in head
    chunks, rest = dechunked(body)
    assert rest == b"\r\n"  # the end of the (empty) trailer
    events = b"".join(chunks).split(b"\n\n")
    assert events[0] == b"retry: 1000"
    assert [vip_left(event.removeprefix(b"data: ")) for event in events[1:] if event.startswith(b"data: ")] == [100, 99]
    assert after.startswith(b"HTTP/1.1 200 OK")  # the connection outlived its stream
    old_head, old_body = unframed.split(b"\r\n\r\n", 1)
    assert b"chunked" not in old_head
    old_events = [event for event in old_body.split(b"\n\n") if event.startswith(b"data: ")]
    assert [vip_left(event.removeprefix(b"data: ")) for event in old_events] == [100, 99]
