"""Server-Sent Events, for the web page's live availability and the waiting room's ticket.

A stream sends its data only when it changed, a comment now and then so proxies keep the
connection open, and ends by itself after ``max_seconds`` (so no stream holds server
resources for ever); the browser's ``EventSource`` reconnects on its own after the
``retry`` delay sent first. The tier list's streams share one reader per process
(``web/http/tier_news.py``); a queue ticket's stream reads its own ticket (``events``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from flask import Response, has_request_context, request

from web.http.server_contract import WAIT_TURN

HEARTBEAT_SECONDS = 15.0
RETRY_MS = 1000

log = logging.getLogger(__name__)


# A stream in the API document: OpenAPI 3.0 has no schema for a sequence of events, so the
# document gives a string and says in words what is in it (a generated client gets the text).
STREAM = {
    "type": "string",
    "description": "`text/event-stream`: `retry:` and `data:` lines, events apart by a blank line",
}


def one_line(data: Any) -> str:
    """``data`` as JSON on one line, as an event's one ``data:`` line needs it."""
    return json.dumps(data, separators=(",", ":"))


# X-Accel-Buffering: a buffering proxy (nginx) would hold the events back.
EVENT_STREAM_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "X-Accel-Buffering": "no"}


def event_stream(events: Iterable[str] | Iterable[bytes]) -> Response:
    """The answer that sends ``events`` as they come."""
    return Response(events, headers=EVENT_STREAM_HEADERS)


def events(
    read: Callable[[], str],
    max_seconds: float,
    pause: Callable[[float], bool],
    clock: Callable[[], float] = time.monotonic,
    unavailable: tuple[type[Exception], ...] = (OperationalError, InterfaceError),
) -> Iterator[str]:
    """A stream's text: ``read`` (one line of JSON) now, then again after each ``pause``
    (given the seconds left; False ends the stream) and the server's leave to go on
    (``web/server/loop_shares.py``), sent whenever it changed, a heartbeat when nothing was
    sent for a while; ``unavailable`` are the errors of the store it reads that end a
    stream quietly.

    The first read happens now, not when the response is sent: a store that does not
    answer is then an ordinary 503 (and the page falls back to polling) rather than a
    stream that breaks after its headers.
    """
    first = read()
    wait_turn = request.environ.get(WAIT_TURN) if has_request_context() else None
    go_on = pause if wait_turn is None else lambda left: pause(left) and (wait_turn() or True)
    return _events(read, first, clock() + max_seconds, clock, go_on, unavailable)


def _events(
    read: Callable[[], str],
    data: str,
    deadline: float,
    clock: Callable[[], float],
    pause: Callable[[float], bool],
    unavailable: tuple[type[Exception], ...],
) -> Iterator[str]:
    yield f"retry: {RETRY_MS}\n\ndata: {data}\n\n"
    last_sent = clock()
    while (now := clock()) < deadline and pause(deadline - now):
        try:
            latest = read()
        except unavailable as error:
            log.warning("stream ended, store unavailable: %s", error)
            return  # the browser reconnects and gets the 503, or the list when it is back
        if latest != data:
            data, last_sent = latest, clock()
            yield f"data: {data}\n\n"
        elif clock() - last_sent >= HEARTBEAT_SECONDS:
            last_sent = clock()
            yield ": heartbeat\n\n"
