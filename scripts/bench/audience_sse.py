"""A Server-Sent Events subscription on a bare asyncio protocol, for the audience's followers.

Tens of thousands of open streams in one client host: each stream's bytes go straight
from ``data_received`` to the caller, with no HTTP library between (what that saves in
client CPU, measured: docs/performance.md, "The audience"). HTTP/1.1 GET, the answer's
body plain or ``chunked`` (gunicorn's and nginx's streams are), events split on the blank
line, each ``data:`` line handed over as bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlsplit

ENDED = "ended"  # the server closed the stream properly (its last chunk)
BROKEN = "broken"  # the connection went before the stream's end
REFUSED = "refused"  # an answer other than 200


class SseProtocol(asyncio.Protocol):
    """One stream: sends the request once connected, calls ``on_data`` with each ``data:``
    line's value, and ends ``closed`` with ENDED, BROKEN or ``(REFUSED, status)``."""

    def __init__(self, request: bytes, on_data: Callable[[bytes], None]) -> None:
        self.request, self.on_data = request, on_data
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()
        self.status: int | None = None
        self.head = b""
        self.raw = b""  # chunked body not decoded yet
        self.text = b""  # event text not yet ended by a blank line
        self.chunked = False
        self.need = 0  # bytes left of the current chunk
        self.crlf = False  # a chunk's closing CRLF still to skip
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if self.closed.done():
            return  # what follows the last chunk (its trailer) or a refusal
        if self.status is None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self.head[:end].lower(), self.head[end + 4 :]
            self.status = int(head.split(b" ", 2)[1])
            self.chunked = b"transfer-encoding: chunked" in head
            if self.status != 200:
                self.finish((REFUSED, self.status))
                return
        if self.chunked:
            self.dechunk(data)
        else:
            self.events(data)

    def dechunk(self, data: bytes) -> None:
        raw = self.raw + data
        while raw:
            if self.need:
                piece, raw = raw[: self.need], raw[self.need :]
                self.need -= len(piece)
                self.events(piece)
                if self.need:
                    break
                self.crlf = True
            if self.crlf:
                if len(raw) < 2:
                    break
                raw, self.crlf = raw[2:], False
            line_end = raw.find(b"\r\n")
            if line_end < 0:
                break
            size = int(raw[:line_end].split(b";")[0], 16)
            raw = raw[line_end + 2 :]
            if size == 0:
                self.finish(ENDED)
                return
            self.need = size
        self.raw = raw

    def events(self, data: bytes) -> None:
        text = self.text + data
        *complete, self.text = text.replace(b"\r\n", b"\n").split(b"\n\n")
        for event in complete:
            for line in event.split(b"\n"):
                if line.startswith(b"data:"):
                    self.on_data(line[5:].strip())

    def finish(self, outcome: object) -> None:
        if not self.closed.done():
            self.closed.set_result(outcome)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.finish(BROKEN)


def get_request(url: str, headers: dict[str, str] | None = None) -> tuple[str, int, bytes]:
    """The host, port and request bytes of a GET of ``url`` that asks for events."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target or '/'} HTTP/1.1", f"Host: {parts.netloc}", "Accept: text/event-stream"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return parts.hostname or "127.0.0.1", parts.port or 80, ("\r\n".join(lines) + "\r\n\r\n").encode()


async def subscribe(
    url: str, on_data: Callable[[bytes], None], source: str | None = None, timeout: float = 10.0
) -> SseProtocol:
    """A stream of ``url`` opened from the address ``source``; raises OSError or
    TimeoutError when it cannot connect within ``timeout``."""
    host, port, request = get_request(url)
    loop = asyncio.get_running_loop()
    _, protocol = await asyncio.wait_for(
        loop.create_connection(
            lambda: SseProtocol(request, on_data), host, port, local_addr=(source, 0) if source else None
        ),
        timeout,
    )
    return protocol
