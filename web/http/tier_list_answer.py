"""``GET /api/tickets`` answered from the process's copy before Flask sees the request.

In an on-sale most requests are this one, the same answer for everyone. Through Flask
it pays for the routing, the request context, its hooks and flask-smorest; here it costs
only the copy's look-up and the headers, so readers take a fraction of what a booking
takes (measured: docs/performance.md). The answer is the one the Flask view gives
(``web/api/sale/tier_list.py``; a test holds them equal): the same body, ETag and
``304 Not Modified``, the request id and the security headers. It is counted in the
request metrics, but not logged line by line (thousands a second in an on-sale).

Requests it does not take go to Flask as usual: any other path or method, a request from a
browser of another origin (CORS is Flask's to answer), and any request while the copy
cannot be read (the store is down: Flask's error handlers answer 503).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from web.http.logs import REQUEST_ID
from web.http.metrics import LATENCY, REQUESTS
from web.http.protection import SECURITY_HEADERS
from web.http.tier_board import CACHE_CONTROL, TierBoard

PATH = "/api/tickets"
FIXED = [(name, value) for name, value in SECURITY_HEADERS.items() if name != "Cache-Control"]
FIXED.append(("Cache-Control", CACHE_CONTROL))


class TierListAnswer:
    """WSGI middleware: answers ``GET /api/tickets`` from ``board``, passes the rest to ``app``."""

    def __init__(self, app: Callable[..., Iterable[bytes]], board: TierBoard) -> None:
        self.app = app
        self.board = board
        self._requests = {status: REQUESTS.labels(PATH, "GET", status) for status in ("200", "304")}
        self._latency = LATENCY.labels(PATH, "GET")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "GET" or "HTTP_ORIGIN" in environ:
            return self.app(environ, start_response)
        started = time.perf_counter()
        try:
            board = self.board.get()
        except Exception:  # the store does not answer: Flask's view gives the error its answer (503)
            return self.app(environ, start_response)
        given = environ.get("HTTP_X_REQUEST_ID", "")
        headers = [
            ("X-Request-ID", given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex),
            ("ETag", board.etag),
            *FIXED,
        ]
        if board.unchanged_for(environ.get("HTTP_IF_NONE_MATCH")):
            status, body = "304", b""
            start_response("304 NOT MODIFIED", headers)
        else:
            status, body = "200", board.body
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers]
            )
        self._requests[status].inc()
        self._latency.observe(time.perf_counter() - started)
        return [body]
