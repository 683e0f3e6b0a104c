"""A value read again at most every so many seconds, by one caller at a time (``Recent``), or
behind its callers and kept while its source fails (``LastKnown``).

Under a flood, thousands of requests find a cached value old at the same moment; if each
read it again they would all queue for the same connections, until the pools refused
them. So one of them reads while the others go on
with the value read last; only a caller that has no value at all waits for the read.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class Recent(Generic[T]):
    def __init__(self, read: Callable[[], T], seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self._seconds = seconds
        self._clock = clock
        self._last: tuple[float, T] | None = None  # (read at, value)
        self._reading = threading.Lock()

    def get(self) -> T:
        """The value, read again if it is older than the limit and nobody else is reading it."""
        last = self._last
        if last is not None and self._clock() - last[0] < self._seconds:
            return last[1]
        if last is not None and not self._reading.acquire(blocking=False):
            return last[1]  # another caller is reading it
        if last is None:
            self._reading.acquire()
        try:
            return self.refresh()
        finally:
            self._reading.release()

    def refresh(self) -> T:
        """Read it now."""
        value = self._read()
        self._last = (self._clock(), value)
        return value

    def forget(self) -> None:
        self._last = None


class LastKnown(Generic[T]):
    """A value its callers never wait for once it has been read, kept while its source fails.

    For what every request consults and a source may stop answering for a while (the waiting
    room's terms in Redis, through a failover): fresher than ``seconds``, it is given as it is;
    older, it is still given, up to ``keep_seconds`` after it was read, while a thread reads it
    again (one at a time, at most one every ``seconds``, so a failing source is not hammered;
    ``keep_seconds`` 0: the caller reads it once it is older than ``seconds``). A
    read that fails leaves the value in place and is logged. Older than ``keep_seconds``, or never
    read, the caller reads it itself and meets the source's error: beyond that bound the value
    is not known any more.
    """

    def __init__(
        self,
        read: Callable[[], T],
        seconds: float,
        keep_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        start: Callable[[Callable[[], None]], None] = lambda work: threading.Thread(target=work, daemon=True).start(),
    ) -> None:
        self._read = read
        self._seconds = seconds
        self._keep = keep_seconds
        self._clock = clock
        self._start = start
        self._last: tuple[float, T] | None = None  # (read at, value)
        self._tried = -math.inf  # when the last read behind the callers started
        self._forgotten = 0  # how many times the value was dropped
        self._trying = threading.Lock()
        self._reading = False  # a read behind the callers is on its way
        self.failing = False  # the last read behind the callers failed

    def get(self) -> T:
        last = self._last
        now = self._clock()
        if last is None or now - last[0] >= max(self._keep, self._seconds):
            return self.refresh()
        if now - last[0] >= self._seconds:
            self._read_behind(now)
        return last[1]

    def refresh(self) -> T:
        """Read it now. A read that began before a ``forget`` returns its value without keeping it."""
        started, forgotten = self._clock(), self._forgotten
        value = self._read()
        if forgotten == self._forgotten:
            self._last = (started, value)
        self.failing = False
        return value

    def forget(self) -> None:
        """Drop the value (it has just changed here): the next caller reads it."""
        self._forgotten += 1
        self._last = None

    def _read_behind(self, now: float) -> None:
        with self._trying:
            if self._reading or now - self._tried < self._seconds:
                return
            self._reading, self._tried = True, now
        self._start(self._read_quietly)

    def _read_quietly(self) -> None:
        try:
            self.refresh()
        except Exception:  # the source's: the value read last stays, until keep_seconds
            self.failing = True
            log.warning("kept the value read last: reading it again failed", exc_info=True)
        finally:
            self._reading = False
