"""A webhook receiver on 127.0.0.1 that records every request it gets: for the
integrations benchmark, and for the tests, which also make it fail requests on purpose.

    with Receiver(fail=lambda n: n < 3) as receiver:    # the first three requests get 500
        ... register receiver.url, book, wait ...
        receiver.accepted()                              # the bodies it answered 2xx, in order
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    at: float  # time.time() when it arrived
    status: int  # what the receiver answered
    headers: dict[str, str]
    body: str


class Receiver:
    """Answers POSTs with 200, or with ``status`` when ``fail(n)`` is true for the n-th
    request (0-based); with ``redirect`` it answers 302 to that URL instead of failing."""

    def __init__(
        self, fail: Callable[[int], bool] = lambda n: False, status: int = 500, redirect: str | None = None
    ) -> None:
        self.fail = fail
        self.status = status
        self.redirect = redirect
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def accepted(self) -> list[str]:
        with self.lock:
            return [r.body for r in self.requests if 200 <= r.status < 300]

    def _answer(self, headers: dict[str, str], body: str) -> int:
        with self.lock:
            failing = self.fail(len(self.requests))
            status = (302 if self.redirect else self.status) if failing else 200
            self.requests.append(Request(time.time(), status, headers, body))
        return status

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if len(raw) < length:  # the sender died mid-request: nothing was delivered
                    self.close_connection = True
                    return
                body = raw.decode()
                status = receiver._answer(dict(self.headers), body)
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", receiver.redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


class BlackHole:
    """A URL whose server accepts connections and never answers: every delivery attempt
    to it times out (a dead endpoint, the worst kind: it costs the full timeout)."""

    def __enter__(self) -> str:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}/hook"

    def __exit__(self, *_: object) -> None:
        self.socket.close()
