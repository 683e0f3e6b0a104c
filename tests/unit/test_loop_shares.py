"""Reads take a bounded share of each turn of a gevent worker's loop; commands are never held."""

from __future__ import annotations

import io

import gevent
import pytest
from gevent.hub import get_hub

from web.http import stream
from web.http.request_body import read_body
from web.server.loop_shares import LoopShare, SharedOut, request_class, shares_from


def begin_all(share: LoopShare, count: int) -> list[tuple[int, int]]:
    """``count`` requests arriving in one turn; (turn, request) in the order they began."""
    begun: list[tuple[int, int]] = []

    def request(n: int) -> None:
        share.enter()
        begun.append((get_hub().loop.iteration, n))

    gevent.joinall([gevent.spawn(request, n) for n in range(count)], raise_error=True)
    return begun


def test_at_most_the_share_begins_per_turn_in_arrival_order_and_all_begin():
    begun = begin_all(LoopShare(2), 9)
    assert [n for _, n in begun] == list(range(9))
    turns = [turn for turn, _ in begun]
    assert max(turns.count(turn) for turn in set(turns)) == 2
    assert len(set(turns)) == 5  # 2, 2, 2, 2 and 1: the waiting ones kept the loop turning


def test_a_share_of_one_lets_one_in_per_turn():
    turns = [turn for turn, _ in begin_all(LoopShare(1), 4)]
    assert len(set(turns)) == 4


def app(environ, start_response):
    start_response("200 OK", [])
    return [environ["PATH_INFO"].encode()]


def test_commands_begin_at_once_while_reads_wait_their_turn():
    shared = SharedOut(app, {"read": 1, "queue": 1})
    begun: list[str] = []

    def request(method: str, path: str) -> None:
        shared({"REQUEST_METHOD": method, "PATH_INFO": path}, lambda *_: None)
        begun.append(f"{method} {path}")

    reads = [gevent.spawn(request, "GET", f"/api/tickets#{n}") for n in range(5)]
    booking = gevent.spawn(request, "POST", "/api/tickets/book")
    gevent.joinall([*reads, booking], raise_error=True)
    assert begun.index("POST /api/tickets/book") <= 1  # behind at most the one read of its turn
    assert len(begun) == 6


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("GET", "/api/tickets", "read"),
        ("GET", "/api/tickets/stream", "stream"),
        ("HEAD", "/api/tickets/stream", "read"),
        ("HEAD", "/health", "read"),
        ("GET", "/api/queue/abc", "queue"),
        ("POST", "/api/queue", "queue"),
        ("POST", "/api/tickets/book", None),
        ("POST", "/api/bookings/x/cancel", None),
        ("DELETE", "/api/admin/x", None),
    ],
)
def test_requests_are_reads_the_waiting_rooms_or_commands(method, path, kind):
    assert request_class({"REQUEST_METHOD": method, "PATH_INFO": path}) == kind


def test_the_shares_come_from_the_settings_and_zero_holds_nothing():
    assert shares_from({}) == {"read": 3, "queue": 2, "stream": 16, "refusal": 4}
    shares = shares_from({"READS_PER_TURN": "0", "QUEUE_REQUESTS_PER_TURN": "4", "REFUSALS_PER_TURN": "0"})
    assert shares == {"read": 0, "queue": 4, "stream": 16, "refusal": 0}
    assert set(SharedOut(app, shares).shares) == {"queue", "stream"}


def test_a_held_request_finds_how_to_wait_for_its_share_again_under_the_key_the_app_reads():
    seen = []
    shared = SharedOut(lambda environ, _: seen.append(environ) or [], {"read": 1})
    shared({"REQUEST_METHOD": "GET", "PATH_INFO": "/api/tickets"}, lambda *_: None)
    shared({"REQUEST_METHOD": "POST", "PATH_INFO": "/api/tickets/book"}, lambda *_: None)
    assert seen[0][stream.WAIT_TURN] == shared.shares["read"].enter
    assert stream.WAIT_TURN not in seen[1]  # a command: never held


def test_streams_opening_do_not_wait_behind_the_reads():
    """Thousands of browsers opening the live list must not queue behind the reads' few a turn."""
    shared = SharedOut(app, {"read": 1, "stream": 4})
    turns: dict[str, list[int]] = {"/api/tickets": [], "/api/tickets/stream": []}

    def request(path: str) -> None:
        shared({"REQUEST_METHOD": "GET", "PATH_INFO": path}, lambda *_: None)
        turns[path].append(get_hub().loop.iteration)

    reads = [gevent.spawn(request, "/api/tickets") for _ in range(8)]
    streams = [gevent.spawn(request, "/api/tickets/stream") for _ in range(8)]
    gevent.joinall([*reads, *streams], raise_error=True)
    assert len(set(turns["/api/tickets"])) == 8  # one read a turn
    assert len(set(turns["/api/tickets/stream"])) == 2  # four streams a turn, beside the reads
    assert max(turns["/api/tickets/stream"]) < max(turns["/api/tickets"])


def test_refused_bodies_are_answered_a_share_a_turn_while_a_booking_goes_on():
    """Slow bodies opened together reach their deadline in one turn: their refusals must not
    all be answered in it, ahead of a booking's next step."""
    answered: dict[str, list[int]] = {"refused": [], "read": []}

    def reading_app(environ, start_response):
        refused = read_body(environ, limit=100, seconds=1.0) is not None
        answered["refused" if refused else "read"].append(get_hub().loop.iteration)
        return app(environ, start_response)

    shared = SharedOut(reading_app, {"refusal": 2})

    def request(length: int) -> None:
        body = io.BytesIO(b"x" * min(length, 100))
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/tickets/book", "CONTENT_LENGTH": str(length)}
        shared({**environ, "wsgi.input": body}, lambda *_: None)

    refused = [gevent.spawn(request, 1000) for _ in range(8)]  # over the limit: refused
    booking = gevent.spawn(request, 10)
    gevent.joinall([*refused, booking], raise_error=True)
    turns = answered["refused"]
    assert len(turns) == 8 and max(turns.count(turn) for turn in turns) == 2
    assert answered["read"][0] <= min(turns)  # the booking was not held behind the refusals
