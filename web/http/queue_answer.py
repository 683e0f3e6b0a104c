"""``POST /api/queue`` (joining the waiting room) answered before Flask sees the request.

At an on-sale's opening every buyer joins within seconds: 50,000 joins over 30 s are more
than 1,600 a second. Through Flask a join cost 1.6–2.5 ms of a worker's CPU, about 70 % of
it the routing, the request context, its hooks, webargs and flask-smorest; the room's own
step (one Redis script) is the rest. Here the join costs the room's step, the ticket's
signature and its description (measured: docs/performance.md).

Only the plain, well-formed join is taken: a JSON body (``Content-Type: application/json``
with a ``Content-Length``) that is exactly ``{"userId": <a valid user id>}``, with a valid
bearer token for that user in token mode, from a page of this site (no ``Origin`` header:
CORS is Flask's to answer). Its answer is the Flask view's (``web/api/waiting_room/queue.py``;
tests hold them equal): the same status (201 new, 200 the place the user has), body, request
id and security headers; it is logged and counted as Flask's requests are. Anything else
goes to Flask, which refuses it with its structured error: a body Flask would refuse, a
missing or wrong token. A join the room refuses (no room on, its store not answering) goes
to Flask too, with the refusal under ``JOIN_REFUSED`` for the view to raise rather than to
join a second time (one join per request, and one store timeout, not two).
"""

from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from marshmallow import Schema

from domain.bookings import same_user
from web.http.logs import log
from web.http.logs import request_id as new_request_id
from web.http.metrics import LATENCY, REQUESTS
from web.http.protection import SECURITY_HEADERS
from web.http.request_body import BODY_ERROR, read_body
from web.identity.user_ids import problem

PATH = "/api/queue"
JOIN_REFUSED = "ledger.join_refused"  # the environ key a refused join's error waits under
LONGEST_BODY = 1024  # a join's body is ``{"userId": ...}``: 64 characters at most, escaped
FIXED = list(SECURITY_HEADERS.items())


class QueueJoinAnswer:
    """WSGI middleware: answers a plain join itself, passes everything else to ``app``."""

    def __init__(self, app: Callable[..., Iterable[bytes]], flask: Flask, schema: Schema) -> None:
        self.app = app
        self.flask = flask
        self.schema = schema  # the view's (``PlaceSchema``)
        self.rooms = flask.extensions["services"].rooms
        self.tokens = flask.extensions["user_tokens"]
        self.limit = int(flask.config["MAX_CONTENT_LENGTH"])
        self.seconds = float(flask.config["REQUEST_BODY_TIMEOUT"])
        self._requests = {status: REQUESTS.labels(PATH, "POST", status) for status in ("200", "201")}
        self._latency = LATENCY.labels(PATH, "POST")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not self.takes(environ):
            return self.app(environ, start_response)
        started = time.perf_counter()
        user_id = self.user(environ)
        if user_id is None:
            return self.app(environ, start_response)
        try:
            place, new = self.rooms.join(user_id)
        except Exception as refused:  # Flask's view raises it, and its error handlers answer
            environ[JOIN_REFUSED] = refused
            return self.app(environ, start_response)
        body = (self.flask.json.dumps(self.schema.dump(place), separators=(",", ":")) + "\n").encode()
        status = "201" if new else "200"
        request_id = new_request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        start_response(
            "201 CREATED" if new else "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("X-Request-ID", request_id),
                *FIXED,
            ],
        )
        self.flask.extensions["services"].written()  # what Flask does after every command that succeeded
        duration = time.perf_counter() - started
        self._requests[status].inc()
        self._latency.observe(duration)
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": "POST",
                "path": PATH,
                "status": int(status),
                "duration_ms": round(duration * 1000, 2),
            },
        )
        return [body]

    def takes(self, environ: dict[str, Any]) -> bool:
        """A join with a short JSON body of known length, from this site's own page."""
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST" or "HTTP_ORIGIN" in environ:
            return False
        if "HTTP_TRANSFER_ENCODING" in environ or environ.get("QUERY_STRING"):
            return False
        if environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != "application/json":
            return False
        length = environ.get("CONTENT_LENGTH", "")
        return length.isdigit() and 0 < int(length) <= min(LONGEST_BODY, self.limit)

    def user(self, environ: dict[str, Any]) -> str | None:
        """The user the join is for, as Flask would find it; None: leave the request to Flask
        (the body read whole either way, so Flask reads the same bytes)."""
        token_user = None
        if self.tokens is not None:  # verified before the body is read, as Flask does
            try:
                token_user = self.tokens.subject(environ.get("HTTP_AUTHORIZATION", ""))
            except Exception:  # 401 or 503: Flask's to answer, by the same check
                return None
        error = read_body(environ, self.limit, self.seconds)
        if error is not None:
            environ[BODY_ERROR] = error
            return None
        try:
            body = json.loads(environ["wsgi.input"].getvalue())
        except (ValueError, RecursionError):
            return None
        named = body.get("userId") if isinstance(body, dict) and len(body) == 1 else None
        if not isinstance(named, str) or problem(named):
            return None
        if token_user is not None:
            return token_user if same_user(named, token_user) else None
        return unicodedata.normalize("NFC", named)
