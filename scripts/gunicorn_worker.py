"""The server's worker: gunicorn's gevent worker, whose own error answers are JSON.

gunicorn answers a request it cannot parse (a bad request line, a header too long or too
many: 400, 414, 431, ...) itself, before the app sees it, with an HTML page. The API
promises ``{"error": {"code", "message", "details"}}`` for every error (``web/errors.py``
builds it for the app's own), so this worker writes that instead. gunicorn's
``handle_error`` picks the status and message, then writes the page with
``gunicorn.util.write_error``, its one place for error pages: the worker replaces that
function in its own process before serving, and leaves the rest to gunicorn.

This module must not import the app (see ``scripts/gunicorn_settings.py``).
"""

from __future__ import annotations

import json
import socket

from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker


def error_code(reason: str) -> str:
    """The code of an HTTP error, as the app names them: its reason in capitals."""
    return reason.upper().replace(" ", "_").replace("'", "")


def write_json_error(sock: socket.socket, status: int, reason: str, message: str) -> None:
    """gunicorn's error answer, with the API's error body."""
    body = json.dumps({"error": {"code": error_code(reason), "message": message or reason, "details": []}}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


class JsonErrorGeventWorker(GeventWorker):
    """gunicorn's gevent worker, answering its own errors in JSON."""

    def init_process(self) -> None:
        util.write_error = write_json_error
        super().init_process()
