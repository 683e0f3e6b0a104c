"""The server's worker: gunicorn's gevent worker, whose own error answers are JSON, whose
answers go out in one socket write, and whose reads take a bounded share of each turn of
its loop (``web/server/loop_shares.py``).

gunicorn answers a request it cannot parse (a bad request line, a header too long or too
many: 400, 414, 431, ...) itself, before the app sees it, with an HTML page. The API
promises ``{"error": {"code", "message", "details"}}`` for every error (``web/http/errors.py``
builds it for the app's own), so this worker writes that instead. gunicorn's
``handle_error`` picks the status and message, then writes the page with
``gunicorn.util.write_error``, its one place for error pages: the worker replaces that
function in its own process before serving, and leaves the rest to gunicorn.

gunicorn writes a response's head and then each part of its body, each a ``sendall``
on the client socket, and under gevent each write costs as much Python as the rest of
gunicorn's handling of the request (measured: docs/performance.md). ``OneWriteResponse``
keeps the head and sends it with the first part of the body, or when the response ends
or anything else touches the socket (a file sent by ``sendfile``), so the bytes on the
wire are the same. gunicorn builds the response in ``wsgi.create`` from that module's
``Response``, which the worker replaces the same way.

This module must not import the app (see ``web/server/gunicorn_settings.py``): the error
code it writes comes from ``web/http/server_contract.py``, which imports nothing.
"""

from __future__ import annotations

import json
import socket
import ssl
from typing import Any

from gunicorn import util
from gunicorn.http import wsgi
from gunicorn.workers.ggevent import GeventWorker

from web.http.server_contract import DIRECT_WRITES, error_code
from web.server.loop_shares import shared_out


def write_json_error(sock: socket.socket, status: int, reason: str, message: str) -> None:
    """gunicorn's error answer, with the API's error body."""
    body = json.dumps({"error": {"code": error_code(reason), "message": message or reason, "details": []}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


class HeadWithBody:
    """A client socket whose first ``sendall`` (gunicorn's response head) is kept and sent
    with the next one; any other use of the socket sends it first."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.head: bytes | None = None
        self.sent_head = False

    def sendall(self, data: bytes) -> None:
        if not self.sent_head and self.head is None:
            self.head = data
            return
        self.sock.sendall(self.flushed() + data)

    def flushed(self) -> bytes:
        """The kept head, now counted as sent (empty if there is none)."""
        head, self.head, self.sent_head = self.head or b"", None, True
        return head

    def flush(self) -> None:
        head = self.flushed()
        if head:
            self.sock.sendall(head)

    def __getattr__(self, name: str) -> Any:
        self.flush()
        return getattr(self.sock, name)


class OneWriteResponse(wsgi.Response):
    """gunicorn's response, its head sent with the first part of its body."""

    def __init__(self, req: Any, sock: socket.socket, cfg: Any) -> None:
        super().__init__(req, HeadWithBody(sock), cfg)

    def close(self) -> None:
        super().close()
        self.sock.flush()  # a response with no body: its head alone


class DirectWrites:
    """A streamed response's client socket, for the parts after its first: each part framed
    as gunicorn frames it (a chunk of HTTP/1.1's chunked coding, or as is), and written at
    once or not at all (``send_now``) so that one greenlet can feed thousands of streams
    without waiting for any; ``sendall`` waits for a slow client in the caller's greenlet.
    Valid only once gunicorn has sent the response's head (its first part)."""

    def __init__(self, response: wsgi.Response) -> None:
        self.response = response

    @property
    def chunked(self) -> bool:
        return bool(self.response.chunked)

    def send_now(self, data: bytes) -> int:
        """As many bytes of ``data`` as the socket takes now (0 if none); raises OSError when
        the client is gone."""
        try:
            return int(self.response.sock.sock._sock.send(data))  # gevent's socket's own, non-blocking
        except BlockingIOError:
            return 0

    def sendall(self, data: bytes) -> None:
        self.response.sock.sendall(data)


def with_direct_writes(app: Any) -> Any:
    """``app``, each GET finding its response's ``DirectWrites`` under ``DIRECT_WRITES`` (a HEAD's
    response has no body to write; bytes sent on a TLS socket's own socket would skip TLS)."""

    def direct_writes_app(environ: dict[str, Any], start_response: Any) -> Any:
        response = getattr(start_response, "__self__", None)
        if (
            isinstance(response, OneWriteResponse)
            and environ.get("REQUEST_METHOD") == "GET"
            and not isinstance(response.sock.sock, ssl.SSLSocket)
        ):
            environ[DIRECT_WRITES] = DirectWrites(response)
        return app(environ, start_response)

    direct_writes_app.app = app  # type: ignore[attr-defined]  # unwrapped by worker_exit (gunicorn_settings.py)
    return direct_writes_app


class JsonErrorGeventWorker(GeventWorker):
    """gunicorn's gevent worker, answering its own errors in JSON, each response in one
    write, reads shared out per turn, and with psycopg waiting on gevent's loop."""

    def init_process(self) -> None:
        util.write_error = write_json_error
        wsgi.Response = OneWriteResponse
        super().init_process()

    def load_wsgi(self) -> None:
        """The app, its reads and the waiting room's requests shared out per turn of the
        loop (``web/server/loop_shares.py``)."""
        super().load_wsgi()
        self.wsgi = with_direct_writes(shared_out(self.wsgi))

    def patch(self) -> None:
        """gevent's patching, then psycopg's waits on gevent's loop (web/server/gevent_psycopg.py)."""
        super().patch()
        # Imported only now: psycopg must see the patched modules.
        from web.server import gevent_psycopg

        gevent_psycopg.install()
