"""The tier list's news for every stream of a process: read once per interval, sent to all.

A stream that looked at the list for itself every half second cost a wake-up, a read and a
comparison per stream per interval, whether or not anything changed: 8,000 streams were
16,000 wake-ups a second taken from the bookings (docs/performance.md). Here one reader
per process looks at the list every ``POLL_SECONDS`` while any stream is open; when the
list changed it makes the event's bytes once and wakes the waiting streams, each of which
only writes those bytes. A stream with nothing new sleeps until the news or its heartbeat.

Under the server's gevent worker a stream is written by the reader itself once its first
part has gone (``Fed``, given the worker's ``DirectWrites``): the event is framed once for
all, and each stream costs one non-blocking send per change, not a greenlet switch, a
generator and the server's write path; that is what let 8,000 streams be fed beside the
bookings (docs/performance.md).

The primitives are ``threading``'s: in the server's gevent workers, patched by gevent, the
reader is a greenlet and a waiting stream costs nothing until it is woken.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from eventsourcing.persistence import InterfaceError, OperationalError

from web.http.stream import HEARTBEAT_SECONDS, RETRY_MS

POLL_SECONDS = 0.5
# The streams are woken in this many groups, one group per turn of a gevent worker's loop,
# so that a booking's next step waits for a group's writes, not for every stream's.
WAKE_GROUPS = 16
HEARTBEAT = b": heartbeat\n\n"


def chunk(data: bytes) -> bytes:
    """``data`` as one chunk of HTTP/1.1's chunked coding, as the server frames each part."""
    return b"%X\r\n%s\r\n" % (len(data), data)


HEARTBEAT_CHUNK = chunk(HEARTBEAT)


class DirectWrites(Protocol):
    """What the server's worker gives a stream for writing to its client itself
    (``web/server/gunicorn_worker.py``)."""

    @property
    def chunked(self) -> bool: ...

    def send_now(self, data: bytes) -> int: ...

    def sendall(self, data: bytes) -> None: ...


log = logging.getLogger(__name__)
_groups = itertools.count()  # streams are spread over the wake groups in turn


@dataclass(frozen=True)
class News:
    number: int  # counts the changes seen by this process
    line: str  # the list as one line of JSON; empty while the store does not answer
    event: bytes  # the stream's event, made once for every stream
    superseded: tuple[threading.Event, ...]  # one per group of streams, set when newer news comes
    chunk: bytes = field(init=False)  # the event framed as a chunk, made once for every direct stream

    def __post_init__(self) -> None:
        object.__setattr__(self, "chunk", chunk(self.event))

    @classmethod
    def of(cls, number: int, line: str) -> News:
        events = tuple(threading.Event() for _ in range(WAKE_GROUPS))
        return cls(number, line, f"data: {line}\n\n".encode(), events)


class TierNews:
    """``read`` (the list as one line of JSON) every ``interval`` seconds while anyone
    follows, and the latest ``News`` for whoever waits for it.

    Each piece of news carries events set when it is superseded: a waiting stream sleeps
    on its group's (one wake-up per change, no lock shared with thousands of others), and
    the groups are woken one after the other, each in a turn of the loop of its own (the
    share of the loop a stream of the "read" class would otherwise wait for before each
    event, ``web/server/loop_shares.py``, at a fraction of its cost)."""

    def __init__(
        self,
        read: Callable[[], str],
        interval: float = POLL_SECONDS,
        unavailable: tuple[type[Exception], ...] = (OperationalError, InterfaceError),
    ) -> None:
        self._read = read
        self._interval = interval
        self._unavailable = unavailable
        self._lock = threading.Lock()
        self._news: News | None = None
        self._followers = 0
        self._closed = False
        self._reader: threading.Thread | None = None
        self._fed: tuple[set[Fed], ...] = tuple(set() for _ in range(WAKE_GROUPS))
        self._quiet_since = time.monotonic()

    def follow(self) -> News:
        """The news now (read now if no reader is running: a store that does not answer
        raises here, before a stream begins), counting the caller as a follower until
        ``leave``."""
        with self._lock:
            reading = self._reader is not None and self._reader.is_alive()
        news = self._news if reading and self._news and self._news.line else self._publish(self._read())
        with self._lock:
            self._followers += 1
            if self._reader is None or not self._reader.is_alive():
                self._reader = threading.Thread(target=self._keep_reading, name="tier-news", daemon=True)
                self._reader.start()
        return news

    def leave(self) -> None:
        with self._lock:
            self._followers -= 1

    def close(self) -> None:
        """Stop reading (the store is closing); open streams end."""
        with self._lock:
            self._closed = True
        self._publish("")

    def after(self, seen: News, group: int, timeout: float) -> News | None:
        """The latest news if newer than ``seen`` came within ``timeout`` seconds (woken
        with ``group``), else None."""
        if not seen.superseded[group % WAKE_GROUPS].wait(timeout):
            return None
        return self._news

    def feed(self, fed: Fed, group: int) -> None:
        """Write each news to ``fed`` from now on (and the latest now if it missed it)."""
        with self._lock:
            self._fed[group % WAKE_GROUPS].add(fed)
            latest = self._news
        if latest is not None:
            fed.offer(latest)

    def unfeed(self, fed: Fed, group: int) -> None:
        with self._lock:
            self._fed[group % WAKE_GROUPS].discard(fed)

    def _feed_all(self, offer: Callable[[Fed], None]) -> None:
        """``offer`` to every fed stream, a group per turn of the loop."""
        for group in self._fed:
            with self._lock:
                streams = tuple(group)
            for fed in streams:
                offer(fed)
            time.sleep(0)

    def _keep_reading(self) -> None:
        due = time.monotonic()
        while True:
            due = max(due + self._interval, time.monotonic())  # every interval, however long a wake-up took
            time.sleep(max(0.0, due - time.monotonic()))
            with self._lock:
                if self._followers <= 0 or self._closed:
                    self._reader = None
                    return
            try:
                line = self._read()
            except self._unavailable as error:
                log.warning("tier streams ended, store unavailable: %s", error)
                line = ""  # the streams end; the browsers reconnect and get the 503, or the list
            except Exception:
                log.exception("the tier list could not be read for its streams")
                continue
            self._publish(line)
            if time.monotonic() - self._quiet_since >= HEARTBEAT_SECONDS:
                self._quiet_since = time.monotonic()
                self._feed_all(Fed.heartbeat)

    def _publish(self, line: str) -> News:
        with self._lock:
            last = self._news
            if last is not None and last.line == line:
                return last
            news = self._news = News.of(last.number + 1 if last else 0, line)
        if last is not None:
            for group in last.superseded:
                group.set()
                time.sleep(0)  # the next group in the next turn of the loop
            self._quiet_since = time.monotonic()
            self._feed_all(lambda fed: fed.offer(news))
        return news


class Fed:
    """A stream written by the reader itself: each news's bytes, framed once for all, go
    straight to the client's socket as far as it takes them now; what it does not take
    waits for the stream's own greenlet (``catch_up``), which meanwhile queues the
    later news behind it. No greenlet switch, generator or server write path per event."""

    def __init__(self, writes: DirectWrites, seen: News) -> None:
        self.writes = writes
        self.chunked = writes.chunked
        self.seen = seen.number
        self.over = threading.Event()  # set when the stream must end (client gone, store down) or catch up
        self.ended = False
        self._lock = threading.Lock()
        self._pending = bytearray()
        self._behind = False

    def offer(self, news: News) -> None:
        if news.number <= self.seen:
            return
        self.seen = news.number
        if not news.line:
            self.ended = True
            self.over.set()
            return
        self._send(news.chunk if self.chunked else news.event)

    def heartbeat(self) -> None:
        self._send(HEARTBEAT_CHUNK if self.chunked else HEARTBEAT)

    def _send(self, data: bytes) -> None:
        with self._lock:
            if self._behind:
                self._pending += data
                return
            try:
                sent = self.writes.send_now(data)
            except OSError:
                self.ended = True
                self.over.set()
                return
            if sent < len(data):
                self._behind = True
                self._pending += data[sent:]
                self.over.set()

    def catch_up(self) -> None:
        """Send what the socket did not take (waiting for it in the caller's greenlet)."""
        while True:
            with self._lock:
                if not self._pending:
                    self._behind = False
                    return
                data = bytes(self._pending)
                self._pending.clear()
            self.writes.sendall(data)


class Followed:
    """A stream's bytes: the list now with the ``retry`` hint, then each change as the
    reader saw it, ``HEARTBEAT`` when nothing came for ``heartbeat_seconds``, until
    ``max_seconds`` or the store stops answering. The first read happens now (see
    ``TierNews.follow``). ``close`` (which the server calls, even on a stream never begun)
    stops counting it as a follower. Given ``writes``, everything after the first part is
    written to the socket by the reader (``Fed``; heartbeats shared, every
    ``HEARTBEAT_SECONDS`` of a quiet list) while the stream's greenlet only waits."""

    def __init__(
        self,
        news: TierNews,
        max_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        retry_ms: int = RETRY_MS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        writes: DirectWrites | None = None,
    ) -> None:
        self._writes = writes
        self._seen = news.follow()
        self._news = news
        self._following = True
        self._head = f"retry: {retry_ms}\n\n".encode() + self._seen.event
        self._deadline = clock() + max_seconds
        self._heartbeat_seconds = heartbeat_seconds
        self._group = next(_groups)
        self._clock = clock

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield self._head
            if self._writes is not None:
                self._be_fed(self._writes)
                return
            while (left := self._deadline - self._clock()) > 0:
                newer = self._news.after(self._seen, self._group, min(self._heartbeat_seconds, left))
                if newer is None:
                    if self._deadline - self._clock() > 0:
                        yield HEARTBEAT
                    continue
                self._seen = newer
                if not newer.line:
                    return  # the store stopped answering
                yield newer.event
        finally:
            self.close()

    def _be_fed(self, writes: DirectWrites) -> None:
        """Wait, while the reader writes the news (``Fed``), until the time limit, the
        client is gone or the store stops answering; catch up when the socket fell behind."""
        fed = Fed(writes, self._seen)
        self._news.feed(fed, self._group)
        try:
            while not fed.ended and (left := self._deadline - self._clock()) > 0:
                fed.over.wait(left)
                fed.over.clear()
                fed.catch_up()
        finally:
            self._news.unfeed(fed, self._group)
        fed.catch_up()

    def close(self) -> None:
        if self._following:
            self._following = False
            self._news.leave()
