"""A value read again at most every so many seconds, by one caller at a time.

Under a flood, thousands of requests find a cached value old at the same moment; if each
read it again they would all queue for the same connections, until the pools refused
them. So one of them reads while the others go on
with the value read last; only a caller that has no value at all waits for the read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


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
