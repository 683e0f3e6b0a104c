"""How a request body gets in: read whole before the app runs, within a deadline and the
size limit, then parsed by webargs, where anything Python's JSON parser cannot take is
an invalid body.

Reading first closes two holes. A client that trickles its body (one byte every few
seconds) would hold a worker's connection for as long as it liked: so the body must
arrive within ``REQUEST_BODY_TIMEOUT`` seconds of the headers, else 408 (the headers have
their own deadline: gunicorn's ``keepalive``, see ``web/server/gunicorn_settings.py``).
And a chunked body (no ``Content-Length``) over ``MAX_CONTENT_LENGTH`` would be cut at
the limit and parsed, so valid JSON followed by padding and garbage would book: so it is
413, as the same body with a length is. The deadline needs the gevent worker the server runs (a
blocking read in a plain thread cannot be interrupted); under Flask's test client the
body is in memory and there is nothing to wait for.
"""

from __future__ import annotations

import contextlib
import io
from contextlib import AbstractContextManager
from typing import Any

import gevent
from flask import Flask, request
from gevent import monkey
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, RequestTimeout
from werkzeug.wsgi import get_content_length

from web.http.server_contract import WAIT_REFUSAL_TURN

BODY_ERROR = "ledger.body_error"  # the environ key a refused body's error waits under


class BodyFirst:
    """WSGI middleware: hands the app a body read whole, or the reason it was refused
    (raised by the app's ``before_request``, so it is answered, logged and counted like
    every other error)."""

    def __init__(self, app: Any, limit: int, seconds: float) -> None:
        self.app, self.limit, self.seconds = app, limit, seconds

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if BODY_ERROR not in environ:  # else refused already, by the join's answer (web/http/queue_answer.py)
            error = read_body(environ, self.limit, self.seconds)
            if error is not None:
                environ[BODY_ERROR] = error
        return self.app(environ, start_response)


def read_body(environ: dict[str, Any], limit: int, seconds: float) -> HTTPException | None:
    """Replace ``wsgi.input`` by the body read whole, with its ``Content-Length``;
    or return why not, once the refusals' share of the worker's loop lets it be answered
    (``web/server/loop_shares.py``). A body over the limit is not read at all when its
    length says so."""
    error = read_whole_body(environ, limit, seconds)
    if error is not None and WAIT_REFUSAL_TURN in environ:
        environ[WAIT_REFUSAL_TURN]()
    return error


def read_whole_body(environ: dict[str, Any], limit: int, seconds: float) -> HTTPException | None:
    length = get_content_length(environ)
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not length and not chunked:
        return None
    if length is not None and length > limit:
        return RequestEntityTooLarge()
    timer = deadline(seconds)
    try:
        with timer:
            body = environ["wsgi.input"].read(limit + 1 if length is None else length)
    except gevent.Timeout as timeout:
        if timeout is not timer:
            raise
        return RequestTimeout(f"The request body did not arrive within {seconds:g} s.")
    if len(body) > limit:
        return RequestEntityTooLarge()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return None


def deadline(seconds: float) -> AbstractContextManager[Any]:
    """A timeout that interrupts a waiting read: gevent's, when sockets are gevent's."""
    return gevent.Timeout(seconds) if monkey.is_module_patched("socket") else contextlib.nullcontext()


def install(app: Flask) -> None:
    app.wsgi_app = BodyFirst(
        app.wsgi_app,
        app.config["MAX_CONTENT_LENGTH"],  # type: ignore[method-assign]
        app.config["REQUEST_BODY_TIMEOUT"],
    )

    @app.before_request
    def refuse_unread_body() -> None:
        error = request.environ.get(BODY_ERROR)
        if error is not None:
            raise error


class JsonBodyParser(FlaskParser):
    """webargs' parser, with JSON that crashes Python's parser answered as invalid JSON
    (400 ``INVALID_JSON``) rather than 500: nesting deeper than the recursion limit
    (``RecursionError``) and integers over 4,300 digits (``ValueError``). webargs turns
    only ``JSONDecodeError`` into its invalid-JSON answer."""

    def load_json(self, req: Any, schema: Any) -> Any:
        try:
            return super().load_json(req, schema)
        except (RecursionError, ValueError) as error:
            return self._handle_invalid_json_error(error, req)  # type: ignore[arg-type]
