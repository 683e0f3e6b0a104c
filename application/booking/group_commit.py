"""Group commit: concurrent bookings in one process share one atomic recording.

During a hot sale every request competes for the same tier version. Saving them one
by one makes all but one lose each round and retry. Instead, requests queue up here;
the first to arrive becomes the *leader*, takes up to ``max_batch`` queued requests
(its own first), and has them decided and saved in one go (``commit_batch``, the ledger's
``BatchCommit``: each tier's bookings are applied to that tier in turn), while later
arrivals queue for the next batch. When it is done it wakes every request of its
batch with its own outcome and promotes the oldest waiting request to lead the next
batch. No thread runs in the background; a leader works only until its batch is saved.

One queue serves all tiers: the library's PostgreSQL recorder serialises every write
of the application behind a table lock anyway, so one recording per batch beats one
per tier (measured with three tiers: see docs/performance.md).

This is not a lock standing in for the version check: two processes still race on
each tier's version, and the loser reads the winner's events and decides again.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID, uuid4

from application.errors import LedgerBusyError, OutcomeUnknownError, StoreTimeoutError
from application.persistence.deadline import arrived


@dataclass(eq=False, kw_only=True)
class Waiting:
    """A request waiting for its batch: how it is woken, and what it gets."""

    wake: threading.Event = field(default_factory=threading.Event)
    arrived: float = field(default_factory=arrived)  # its batch must be answered by this + the write timeout
    leads: bool = False
    outcome: Any = None  # a receipt, or the exception to raise

    def result(self) -> Any:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@dataclass(eq=False)
class PendingBooking(Waiting):
    """One booking or hold request waiting for its batch to be recorded."""

    user_id: str
    tier: str
    quantity: int
    booking_id: UUID = field(default_factory=uuid4)  # derived from an idempotency key, if any
    replayable: bool = False  # True when the booking may exist already (idempotent retry)
    expires_at: datetime | None = None  # set for a hold: when its tickets go back on sale
    id_scope: ClassVar[tuple[str, ...]] = ()  # sets its idempotent ids apart (``idempotent_booking_id``)

    @property
    def tiers(self) -> tuple[str, ...]:
        return (self.tier,)

    def asks_for(self) -> tuple[str, str, int, bool]:
        """What the request asks for: a retry with the same key must ask for the same
        (a hold's retry comes later, so its expiry time differs and is not compared)."""
        return self.user_id, self.tier, self.quantity, self.expires_at is not None


@dataclass(eq=False)
class PendingOrder(Waiting):
    """An order of several tiers waiting for its batch: all of it recorded, or none."""

    user_id: str
    items: tuple[tuple[str, int], ...]  # (tier, quantity), each tier once
    booking_id: UUID = field(default_factory=uuid4)  # the order's id; from an idempotency key, if any
    replayable: bool = False
    id_scope: ClassVar[tuple[str, ...]] = ("order",)  # an order's key never names a booking's id

    @property
    def tiers(self) -> tuple[str, ...]:
        return tuple(tier for tier, _ in self.items)

    def asks_for(self) -> tuple[str, tuple[tuple[str, int], ...]]:
        return self.user_id, self.items


Pending = PendingBooking | PendingOrder
Queued = TypeVar("Queued", bound=Waiting)


class GroupCommit(Generic[Queued]):
    """Gathers pending bookings and has ``commit_batch`` record them together.

    ``commit_batch(batch)`` must set every pending booking's ``outcome``; one it leaves
    unset, as when the leader is interrupted by a ``BaseException``, becomes
    ``OutcomeUnknownError``, never a receipt. ``max_wait`` bounds how long a request
    waits to join a batch; after that it is withdrawn, nothing recorded, with
    ``LedgerBusyError``. A request whose batch is still being saved ``max_wait`` later
    gets ``OutcomeUnknownError``. When ``commit_batch`` raises one of the
    ``unavailable`` errors (the store is down, or did not answer in time), the requests
    queued meanwhile fail with it too, nothing recorded (with ``StoreTimeoutError`` where
    the batch's outcome is unknown: theirs is not): as the next batch they would only wait
    as long again to meet the same error.
    """

    def __init__(
        self,
        commit_batch: Callable[[list[Queued]], None],
        max_batch: int,
        max_wait: float,
        unavailable: tuple[type[Exception], ...] = (),
    ) -> None:
        self.commit_batch = commit_batch
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.unavailable = unavailable
        self._lock = threading.Lock()
        self._waiting: deque[Queued] = deque()
        self._busy = False  # a leader is committing a batch

    def submit(self, pending: Queued) -> Any:
        """Queue ``pending``; return its receipt once its batch is saved."""
        with self._lock:
            self._waiting.append(pending)
            if not self._busy:
                self._busy = pending.leads = True
        if not pending.leads and not self._wait(pending):
            raise OutcomeUnknownError(
                f"The recording of this request took over {2 * self.max_wait:.1f} s; whether it was stored is "
                "unknown. Retry with the same Idempotency-Key."
            )
        if pending.leads and pending.outcome is None:
            self._lead()
        return pending.result()

    def _wait(self, pending: Queued) -> bool:
        """Wait for a turn. True once woken (to lead, or with an outcome); False if the
        request's batch is still being saved after ``max_wait`` seconds more."""
        if pending.wake.wait(self.max_wait):
            return True
        with self._lock:
            if not pending.leads and pending in self._waiting:
                self._waiting.remove(pending)
                pending.outcome = LedgerBusyError(
                    f"Waited {self.max_wait:.1f} s for a turn without being recorded; retry later."
                )
                return True
        return pending.wake.wait(self.max_wait)  # in a batch being saved: its outcome is moments away

    def _lead(self) -> None:
        with self._lock:
            batch = [self._waiting.popleft() for _ in range(min(self.max_batch, len(self._waiting)))]
        try:
            self.commit_batch(batch)
        except Exception as error:  # e.g. the store is down: every request learns it
            for pending in batch:
                pending.outcome = error
            if isinstance(error, self.unavailable):
                with self._lock:
                    queued = list(self._waiting)
                    self._waiting.clear()
                for pending in queued:
                    pending.outcome = not_recorded(error)
                batch += queued
        finally:
            for pending in batch:
                if pending.outcome is None:  # the leader was interrupted (e.g. a gevent Timeout)
                    pending.outcome = OutcomeUnknownError(
                        "The recording of this request was interrupted; whether it was stored is unknown. "
                        "Retry with the same Idempotency-Key."
                    )
            # The next leader is woken first: under gevent, woken requests run in the order
            # they were woken, and the batch's answers (a millisecond or two each) can be
            # written while the next batch's first flight is on its way to PostgreSQL.
            with self._lock:
                if self._waiting:
                    self._waiting[0].leads = True
                    self._waiting[0].wake.set()
                else:
                    self._busy = False
            for pending in batch:
                pending.wake.set()


def not_recorded(error: Exception) -> Exception:
    """What a request queued behind a batch that met ``error`` learns: the same, unless the
    batch's outcome is unknown; the queued request surely was not recorded."""
    if isinstance(error, OutcomeUnknownError):
        return StoreTimeoutError()
    return error
