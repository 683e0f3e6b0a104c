"""The tier list's news for every stream of a process: read once per interval, sent to all.

A stream that looked at the list for itself every half second cost a wake-up, a read and a
comparison per stream per interval, whether or not anything changed: 8,000 streams were
16,000 wake-ups a second taken from the bookings (docs/performance.md). Here one reader
per process looks at the list every ``POLL_SECONDS`` while any stream is open; when the
list changed it makes the event's bytes once and wakes the waiting streams, each of which
only writes those bytes. A stream with nothing new sleeps until the news or its heartbeat.

The primitives are ``threading``'s: in the server's gevent workers, patched by gevent, the
reader is a greenlet and a waiting stream costs nothing until it is woken.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from eventsourcing.persistence import InterfaceError, OperationalError

from web.http.stream import HEARTBEAT_SECONDS, RETRY_MS

POLL_SECONDS = 0.5
# The streams are woken in this many groups, one group per turn of a gevent worker's loop,
# so that a booking's next step waits for a group's writes, not for every stream's.
WAKE_GROUPS = 16
HEARTBEAT = b": heartbeat\n\n"

log = logging.getLogger(__name__)
_groups = itertools.count()  # streams are spread over the wake groups in turn


@dataclass(frozen=True)
class News:
    number: int  # counts the changes seen by this process
    line: str  # the list as one line of JSON; empty while the store does not answer
    event: bytes  # the stream's event, made once for every stream
    superseded: tuple[threading.Event, ...]  # one per group of streams, set when newer news comes

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

    def _keep_reading(self) -> None:
        due = time.monotonic()
        while True:
            due = max(due + self._interval, time.monotonic())  # every interval, however long a wake-up took
            time.sleep(due - time.monotonic())
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
        return news


class Followed:
    """A stream's bytes: the list now with the ``retry`` hint, then each change as the
    reader saw it, ``HEARTBEAT`` when nothing came for ``heartbeat_seconds``, until
    ``max_seconds`` or the store stops answering. The first read happens now (see
    ``TierNews.follow``). ``close`` (which the server calls, even on a stream never begun)
    stops counting it as a follower."""

    def __init__(
        self,
        news: TierNews,
        max_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        retry_ms: int = RETRY_MS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
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

    def close(self) -> None:
        if self._following:
            self._following = False
            self._news.leave()
