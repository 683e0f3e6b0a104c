"""Committing a batch of booking requests: in the turns of its tiers, decided (``batch.decide``)
and recorded in one recording, decided again on a conflict. The group commit's leader hands
each batch here (``group_commit.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore

from application.booking.batch import Aggregates, BatchDecision, Batched, decide
from application.booking.expiring import PendingExpiry
from application.booking.observer import LedgerObserver
from application.booking.paying import PendingPayment
from application.booking.retries import Retries
from application.errors import LedgerBusyError
from application.persistence.deadline import store_deadline


class AggregateStore(Aggregates, Protocol):
    """What committing reads and writes: the aggregates to decide on, one recording of all a
    decision changed (refused if another writer recorded one of them first), the events
    as stored (to tell whether a decision whose answer was lost was recorded), and the
    versions of the tiers this process holds (what a turn reads ahead from)."""

    @property
    def events(self) -> EventStore[UUID]: ...

    def save(self, *aggregates: Aggregate) -> None: ...

    def cached_versions(self, codes: Iterable[str], others: Iterable[UUID] = ()) -> dict[UUID, int]: ...


class Turns(Protocol):
    """Turns to write tiers, across processes (``turns.py``)."""

    def of(self, tiers: Iterable[str], after: Mapping[UUID, int] | None = None) -> AbstractContextManager[None]: ...


class BatchCommit:
    """Decides and records a batch, setting each request's outcome; reports to ``observer``
    and takes the time from ``clock`` (both replaceable: the ledger hands on its own). The
    store's work for a batch ends ``write_timeout`` seconds after its oldest request arrived
    (``application/persistence/deadline.py``): every request is answered within it."""

    def __init__(
        self,
        store: AggregateStore,
        turns: Turns,
        retries: Retries,
        observer: LedgerObserver,
        clock: Callable[[], datetime],
        write_timeout: float,
    ) -> None:
        self.store = store
        self.turns = turns
        self.retries = retries
        self.observer = observer
        self.clock = clock
        self.write_timeout = write_timeout

    def __call__(self, batch: list[Batched]) -> None:
        """Decide the batch and save the changed tiers, every accepted booking and order and
        every payment opened or received in one recording, in the turns of its tiers; then
        give each request its outcome."""
        self.observer.batch(len(batch))
        until = min(pending.arrived for pending in batch) + self.write_timeout
        tiers = {tier for pending in batch for tier in pending.tiers}
        reads = [
            id_ for pending in batch if isinstance(pending, PendingPayment | PendingExpiry) for id_ in pending.reads
        ]
        with store_deadline(until), self.turns.of(tiers, self.store.cached_versions(tiers, reads)):
            decision = self._decided_and_recorded(batch)
        for booking in decision.bookings:
            (self.observer.held if booking.expires_at else self.observer.booked)(booking.tier, booking.quantity)
        for pending, outcome in zip(batch, decision.outcomes, strict=True):
            pending.outcome = outcome

    def _decided_and_recorded(self, batch: list[Batched]) -> BatchDecision:
        """On a conflict, the batch is decided again against the tiers as they are now,
        unless an earlier decision of it turns out to be stored after all (its commit went
        through but the answer was lost, and the library's retry of it was refused as a
        conflict): then that decision's answers are true. Whether a decision is stored is
        checked on what only it could have written, its own tier (or payment) events, never on a booking
        id that another process may also record. After the last conflict every request is
        refused with ``LedgerBusyError``, nothing recorded."""
        tried: list[BatchDecision] = []  # decisions whose recording was attempted
        try:
            return self.retries(lambda: self._attempt(batch, tried))
        except LedgerBusyError as error:
            return self._stored(tried) or BatchDecision.refused(len(batch), error)

    def _attempt(self, batch: list[Batched], tried: list[BatchDecision]) -> BatchDecision:
        decision = self._stored(tried) or decide(batch, self.store, self.clock())
        if decision.records and decision not in tried:
            tried.append(decision)
            self.store.save(*decision.records)
        return decision

    def _stored(self, tried: list[BatchDecision]) -> BatchDecision | None:
        return next((decision for decision in tried if decision.is_stored_in(self.store.events)), None)
