"""Group commit: concurrent bookings of one tier, in one process, share one recording.

During a hot sale every request competes for the same tier version. Saving them one
by one makes all but one lose each round and retry. Instead, requests for a tier
queue up here; the first to arrive becomes the *leader*, takes up to ``max_batch``
queued requests (its own first), and commits them in one go (see
``BookingLedger._commit_batch``), while later arrivals queue for the next batch. When
it is done it wakes every request of its batch with its own outcome, and promotes the
oldest waiting request to lead the next batch. No thread runs in the background, and
the leader works only until its own batch is saved.

This is not a lock standing in for the version check: two processes still race on
the tier's version, and the loser reloads and re-applies its batch.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from application.errors import LedgerBusyError


@dataclass(eq=False)
class PendingBooking:
    """One booking request waiting for its batch to be recorded."""

    user_id: str
    quantity: int
    booking_id: UUID = field(default_factory=uuid4)
    wake: threading.Event = field(default_factory=threading.Event)
    leads: bool = False
    outcome: Any = None  # a receipt, or the exception to raise

    def result(self) -> Any:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@dataclass(eq=False)
class TierQueue:
    lock: threading.Lock = field(default_factory=threading.Lock)
    waiting: deque[PendingBooking] = field(default_factory=deque)
    busy: bool = False  # a leader is committing a batch of this tier


class GroupCommit:
    """Gathers pending bookings per tier and has ``commit_batch`` record them together.

    ``commit_batch(tier, batch)`` must set every pending booking's ``outcome``.
    ``max_wait`` bounds how long a request waits to join a batch; after that it is
    withdrawn, nothing recorded, with ``LedgerBusyError``.
    """

    def __init__(
        self, commit_batch: Callable[[str, list[PendingBooking]], None], max_batch: int, max_wait: float
    ) -> None:
        self.commit_batch = commit_batch
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._queues: dict[str, TierQueue] = {}
        self._queues_lock = threading.Lock()

    def submit(self, tier: str, pending: PendingBooking) -> Any:
        """Queue ``pending`` for ``tier``; return its receipt once its batch is saved."""
        queue = self._queue(tier)
        with queue.lock:
            queue.waiting.append(pending)
            if not queue.busy:
                queue.busy = pending.leads = True
        if not pending.leads:
            self._wait(queue, pending)
        if pending.leads and pending.outcome is None:
            self._lead(tier, queue)
        return pending.result()

    def _queue(self, tier: str) -> TierQueue:
        with self._queues_lock:
            return self._queues.setdefault(tier, TierQueue())

    def _wait(self, queue: TierQueue, pending: PendingBooking) -> None:
        if pending.wake.wait(self.max_wait):
            return
        with queue.lock:
            if not pending.leads and pending in queue.waiting:
                queue.waiting.remove(pending)
                pending.outcome = LedgerBusyError(
                    f"Waited {self.max_wait:.1f} s for a turn without being recorded; retry later."
                )
                return
        pending.wake.wait()  # already in a batch being saved: its outcome is moments away

    def _lead(self, tier: str, queue: TierQueue) -> None:
        with queue.lock:
            batch = [queue.waiting.popleft() for _ in range(min(self.max_batch, len(queue.waiting)))]
        try:
            self.commit_batch(tier, batch)
        except Exception as error:  # e.g. the store is down: every request learns it
            for pending in batch:
                pending.outcome = error
        finally:
            for pending in batch:
                pending.wake.set()
            with queue.lock:
                if queue.waiting:
                    queue.waiting[0].leads = True
                    queue.waiting[0].wake.set()
                else:
                    queue.busy = False
