"""``GET /api/tickets`` answered from the process's copy, and its live stream opened, before
Flask sees the request.

In an on-sale most requests are these, the same answer for everyone. Through Flask each
pays for the routing, the request context, its hooks and flask-smorest; here the list
costs only the copy's look-up and the headers, so readers take a fraction of what a
booking takes, and a stream's opening only its start with the process's one reader
(``web/http/tier_news.py``): 8,000 followers reopen 270 streams a second (each ends after
``SSE_MAX_SECONDS``), and through Flask that was the origin's largest cost after the
streams' own writes (measured: docs/performance.md). The answers are the ones the Flask
views give (``web/api/sale/tier_list.py``; a test holds them equal): the same body, ETag
and ``304 Not Modified``, the same stream, the request id and the security headers. They
are counted in the request metrics, but not logged line by line (thousands a second in an
on-sale).

Requests it does not take go to Flask as usual: any other path or method, a request from a
browser of another origin (CORS is Flask's to answer), and any request while the copy
cannot be read (the store is down: Flask's error handlers answer 503).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from web.http.logs import request_id
from web.http.metrics import LATENCY, REQUESTS
from web.http.protection import SECURITY_HEADERS
from web.http.server_contract import DIRECT_WRITES
from web.http.stream import EVENT_STREAM_HEADERS
from web.http.tier_board import CACHE_CONTROL, TierBoard
from web.http.tier_news import Followed, TierNews

PATH = "/api/tickets"
STREAM_PATH = "/api/tickets/stream"
FIXED = [(name, value) for name, value in SECURITY_HEADERS.items() if name != "Cache-Control"]
FIXED.append(("Cache-Control", CACHE_CONTROL))
STREAM_FIXED = [*EVENT_STREAM_HEADERS.items(), *SECURITY_HEADERS.items()]


class TierListAnswer:
    """WSGI middleware: answers ``GET /api/tickets`` from ``board`` and opens
    ``GET /api/tickets/stream`` on ``news`` (ending after the app's ``SSE_MAX_SECONDS`` of the
    moment, read from ``config`` as the Flask view reads it), passes the rest to ``app``."""

    def __init__(
        self, app: Callable[..., Iterable[bytes]], board: TierBoard, news: TierNews, config: Mapping[str, Any]
    ) -> None:
        self.app = app
        self.board = board
        self.news = news
        self.config = config
        self._requests = {
            (path, status): REQUESTS.labels(path, "GET", status)
            for path, status in ((PATH, "200"), (PATH, "304"), (STREAM_PATH, "200"))
        }
        self._latency = {path: LATENCY.labels(path, "GET") for path in (PATH, STREAM_PATH)}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path not in (PATH, STREAM_PATH) or environ.get("REQUEST_METHOD") != "GET" or "HTTP_ORIGIN" in environ:
            return self.app(environ, start_response)
        started = time.perf_counter()
        try:
            status, body = (self._list if path == PATH else self._stream)(environ, start_response)
        except Exception:  # the store does not answer: Flask's view gives the error its answer (503)
            return self.app(environ, start_response)
        self._requests[path, status].inc()
        self._latency[path].observe(time.perf_counter() - started)
        return body

    def _list(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> tuple[str, Iterable[bytes]]:
        board = self.board.get()
        headers = [request_id_header(environ), ("ETag", board.etag), *FIXED]
        if board.unchanged_for(environ.get("HTTP_IF_NONE_MATCH")):
            start_response("304 NOT MODIFIED", headers)
            return "304", [b""]
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(board.body))), *headers]
        )
        return "200", [board.body]

    def _stream(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> tuple[str, Iterable[bytes]]:
        max_seconds = self.config["SSE_MAX_SECONDS"]
        followed = Followed(self.news, max_seconds, writes=environ.get(DIRECT_WRITES))  # reads if no reader runs
        start_response("200 OK", [*STREAM_FIXED, request_id_header(environ)])
        return "200", followed


def request_id_header(environ: dict[str, Any]) -> tuple[str, str]:
    return "X-Request-ID", request_id(environ.get("HTTP_X_REQUEST_ID", ""))
