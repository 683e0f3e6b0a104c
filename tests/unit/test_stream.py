"""The tier list's streams: one reader per process, its news sent to every stream once per
change, heartbeats while quiet, and the end of a stream (time limit, store down)."""

from __future__ import annotations

import threading
import time

import pytest
from eventsourcing.persistence import OperationalError

from web.http.tier_news import HEARTBEAT, Followed, TierNews
from web.http.tier_news import chunk as framed

INTERVAL = 0.02


class CountedList:
    """The tier list as the board gives it, counting how often it is read."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.reads = 0
        self.down = False

    def read(self) -> str:
        self.reads += 1
        if self.down:
            raise OperationalError("connection refused")
        return self.line


def collect(stream: Followed, chunks: list[bytes], count: int) -> threading.Thread:
    """Take ``count`` chunks of ``stream`` in a thread of its own, then close it."""

    def take() -> None:
        for chunk in stream:
            chunks.append(chunk)
            if len(chunks) == count:
                break
        stream.close()

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    return thread


def test_the_list_is_read_once_per_interval_however_many_streams_follow_and_each_change_reaches_all():
    tiers = CountedList("[5]")
    news = TierNews(tiers.read, interval=INTERVAL)
    started = time.monotonic()
    streams = [Followed(news, max_seconds=10) for _ in range(50)]
    assert tiers.reads == 1  # the first stream read it; the others found the reader running
    chunks: list[list[bytes]] = [[] for _ in streams]
    threads = [collect(stream, got, 2) for stream, got in zip(streams, chunks, strict=True)]
    time.sleep(10 * INTERVAL)
    reads_before_change, intervals = tiers.reads, (time.monotonic() - started) / INTERVAL
    tiers.line = "[4]"
    for thread in threads:
        thread.join(timeout=10)
    assert all(got == [b"retry: 1000\n\ndata: [5]\n\n", b"data: [4]\n\n"] for got in chunks)
    assert reads_before_change <= intervals + 2  # one reader every interval, not fifty


def test_a_quiet_stream_sends_heartbeats_and_ends_at_its_time_limit():
    news = TierNews(CountedList("[5]").read, interval=INTERVAL)
    started = time.monotonic()
    chunks = list(Followed(news, max_seconds=0.35, heartbeat_seconds=0.1))
    assert chunks[0] == b"retry: 1000\n\ndata: [5]\n\n"
    assert chunks[1:] == [HEARTBEAT] * 3
    assert 0.35 <= time.monotonic() - started < 1


def test_a_store_that_stops_answering_ends_the_streams_but_one_that_never_answered_raises():
    tiers = CountedList("[5]")
    news = TierNews(tiers.read, interval=INTERVAL)
    stream = Followed(news, max_seconds=10)
    tiers.down = True
    assert list(stream) == [b"retry: 1000\n\ndata: [5]\n\n"]
    stream.close()
    with pytest.raises(OperationalError):
        Followed(news, max_seconds=10)


def test_the_reader_stops_when_the_last_stream_closes_even_one_never_begun():
    tiers = CountedList("[5]")
    news = TierNews(tiers.read, interval=INTERVAL)
    Followed(news, max_seconds=10).close()
    time.sleep(5 * INTERVAL)
    reads = tiers.reads
    time.sleep(5 * INTERVAL)
    assert tiers.reads == reads <= 2


class Socket:
    """A client socket as the server's worker gives it to a stream (``DirectWrites``): it
    takes at most ``room`` bytes of a write that must not wait, all of one that may."""

    def __init__(self, room: int, chunked: bool = True) -> None:
        self.room = room
        self.chunked = chunked
        self.received = bytearray()
        self.gone = False
        self.waited = 0

    def send_now(self, data: bytes) -> int:
        if self.gone:
            raise BrokenPipeError
        self.received += data[: self.room]
        return min(self.room, len(data))

    def sendall(self, data: bytes) -> None:
        self.waited += 1
        self.received += data


def test_the_reader_writes_each_change_to_a_streams_socket_framed_once_and_a_slow_one_catches_up_in_order():
    tiers = CountedList("[5]")
    news = TierNews(tiers.read, interval=INTERVAL)
    fast, slow, old = Socket(room=1 << 16), Socket(room=7), Socket(room=1 << 16, chunked=False)
    streams = [Followed(news, max_seconds=1.5, writes=socket) for socket in (fast, slow, old)]
    ends = [threading.Thread(target=lambda s=stream: chunks.append(list(s))) for stream in streams]
    chunks: list[list[bytes]] = []
    for end in ends:
        end.start()
    for line in ("[4]", "[3]", "[2]"):
        time.sleep(10 * INTERVAL)
        tiers.line = line
    for end in ends:
        end.join(timeout=5)
    assert chunks == [[b"retry: 1000\n\ndata: [5]\n\n"]] * 3  # the head went the server's way, the rest directly
    events = b"data: [4]\n\ndata: [3]\n\ndata: [2]\n\n"
    assert (
        bytes(fast.received)
        == bytes(slow.received)
        == b"".join(framed(e + b"\n\n") for e in events.split(b"\n\n")[:-1])
    )
    assert bytes(old.received) == events
    assert fast.waited == 0 < slow.waited  # only the slow one waited, in its own thread


def test_a_written_stream_ends_at_the_first_change_its_client_is_gone_for_or_when_the_store_stops_answering():
    tiers = CountedList("[5]")
    news = TierNews(tiers.read, interval=INTERVAL)
    gone = Socket(room=1 << 16)
    gone.gone = True
    started = time.monotonic()
    abandoned = Followed(news, max_seconds=10, writes=gone)
    staying = Followed(news, max_seconds=10, writes=Socket(room=1 << 16))
    ended = threading.Thread(target=lambda: list(abandoned))
    ended.start()
    time.sleep(5 * INTERVAL)
    tiers.line = "[4]"
    ended.join(timeout=5)
    tiers.down = True
    assert list(staying) == [b"retry: 1000\n\ndata: [5]\n\n"]
    assert not ended.is_alive()
    assert time.monotonic() - started < 5
