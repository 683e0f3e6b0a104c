"""The worker's responses go out in one write (``web/server/gunicorn_worker.py``): gunicorn's
own ``Response`` on a socket that counts its writes, and the bytes are what gunicorn sends."""

from __future__ import annotations

from gunicorn.config import Config
from gunicorn.http import wsgi
from gunicorn.http.message import Request
from gunicorn.http.unreader import IterUnreader

from web.server.gunicorn_worker import OneWriteResponse


class CountingSocket:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def fileno(self) -> int:
        return -1


def request(raw: bytes) -> Request:
    return Request(Config(), IterUnreader([raw]), ("127.0.0.1", 1234))


def answer(response_class, body_parts: list[bytes], method: str = "GET") -> list[bytes]:
    sock = CountingSocket()
    response = response_class(request(f"{method} / HTTP/1.1\r\nHost: x\r\n\r\n".encode()), sock, Config())
    length = sum(map(len, body_parts))
    response.start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(length))])
    for part in body_parts:
        response.write(part)
    response.close()
    return sock.writes


def test_a_head_and_its_body_go_out_in_one_write_with_the_bytes_gunicorn_sends():
    ours, gunicorns = answer(OneWriteResponse, [b'{"ok":true}']), answer(wsgi.Response, [b'{"ok":true}'])
    assert len(ours) == 1 and len(gunicorns) == 2
    assert strip_date(ours[0]) == strip_date(b"".join(gunicorns))


def test_later_parts_of_a_body_go_out_as_they_come():
    assert [strip_date(w).split(b"\r\n\r\n")[-1] for w in answer(OneWriteResponse, [b"ab", b"cd", b"ef"])] == [
        b"ab",
        b"cd",
        b"ef",
    ]


def test_a_response_without_a_body_still_sends_its_head():
    [head] = answer(OneWriteResponse, [], method="HEAD")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")


def test_any_other_use_of_the_socket_sends_the_kept_head_first():
    sock = CountingSocket()
    response = OneWriteResponse(request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), sock, Config())
    response.start_response("200 OK", [("Content-Length", "3")])
    response.send_headers()
    assert sock.writes == []
    response.sock.fileno()  # as gunicorn's sendfile does before it writes the file
    assert len(sock.writes) == 1 and sock.writes[0].startswith(b"HTTP/1.1 200 OK")


def strip_date(data: bytes) -> bytes:
    return b"\r\n".join(line for line in data.split(b"\r\n") if not line.startswith(b"Date: "))
