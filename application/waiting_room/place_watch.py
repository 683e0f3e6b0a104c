"""Wakes the waiting room's place streams when what they show may have changed.

A buyer following their place over its stream (the booking page does) must hear at once
when their turn comes or the sale is over, and now and then how far they have come. A
stream that read its place every half second cost each waiting buyer two looks a second,
most of them finding nothing new: with ten thousand buyers waiting, more than the sale's
bookings. Instead one watcher per process looks at the room every ``TICK_SECONDS`` (the
process's copy of the gate: no round trip) and wakes the streams whose place the gate
has reached, or all of them when the sale is over (the room's tiers sold out, the room
off); the others sleep until their next update of place and wait.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

TICK_SECONDS = 0.25
NEVER = float("inf")


@dataclass(order=True)
class Waiter:
    place: float
    arrival: int
    woken: threading.Event = field(compare=False, default_factory=threading.Event)
    gone: bool = field(compare=False, default=False)  # stopped waiting (its time was up)


class PlaceWatch:
    """``progress()`` gives the places admitted so far and whether the sale is over for
    everyone still waiting."""

    def __init__(self, progress: Callable[[], tuple[int, bool]], tick: float = TICK_SECONDS) -> None:
        self.progress = progress
        self.tick = tick
        self._lock = threading.Lock()
        self._waiting: list[Waiter] = []  # a heap, by place
        self._arrivals = itertools.count()
        self._watching = False

    def wait(self, place: int | None, timeout: float) -> bool:
        """Until the gate reaches ``place`` (None: not for that), the sale is over, or
        ``timeout`` seconds pass; whether something woke it."""
        waiter = Waiter(NEVER if place is None else place, next(self._arrivals))
        with self._lock:
            heapq.heappush(self._waiting, waiter)
            if not self._watching:
                self._watching = True
                threading.Thread(target=self._watch, name="place-watch", daemon=True).start()
        woken = waiter.woken.wait(timeout)
        waiter.gone = True
        return woken

    def waiting(self) -> int:
        with self._lock:
            return sum(not waiter.gone for waiter in self._waiting)

    def _watch(self) -> None:
        """Every tick while streams wait: wake those whose turn came, or all once the sale is over."""
        while self._wake():
            time.sleep(self.tick)

    def _wake(self) -> bool:
        """One look at the room; whether anyone still waits."""
        try:
            admitted, over = self.progress()
        except Exception:  # the room's store is not answering: the streams' own reads say so
            admitted, over = 0, False
        with self._lock:
            while self._waiting and (over or self._waiting[0].place <= admitted):
                heapq.heappop(self._waiting).woken.set()
            if sum(waiter.gone for waiter in self._waiting) > len(self._waiting) // 2:
                self._waiting = [waiter for waiter in self._waiting if not waiter.gone]
                heapq.heapify(self._waiting)
            self._watching = bool(self._waiting)
            return self._watching
