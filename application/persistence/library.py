"""Every place the project overrides the ``eventsourcing`` library, in one module.

Checked against eventsourcing 9.5.6 (the version ``pyproject.toml`` pins, ``>=9.5.6,<9.6``).
At each upgrade of the library, read the library's source of each method named here
and check that what the override assumes still holds; the tests that guard each
override are named beside it.

- ``LedgerPostgresFactory`` and its recorders (``library_postgres.py``, beside this module
  for its length): table creation serialised across
  processes; a statement tried twice, not ten times; the pool reconnecting on demand;
  each recording made by one statement that takes the events table's lock, and, in a
  tier's turn, sent with the turn's ``COMMIT`` on the turn's own connection
  (tests/integration/test_recording.py, test_turns.py, test_store_probe.py,
  tests/unit/test_storage.py).
  When PostgreSQL goes away a request should learn it within a few seconds (503
  ``STORE_UNAVAILABLE``) and the service reconnect as soon as it is back; with the
  library's defaults it takes minutes (10 tries of each statement, each waiting up to
  ``POSTGRES_CONNECT_TIMEOUT``, 30 s, for a pooled connection). So the ledger's pool wait
  is short (``BookingLedger.env``), its recorders try twice, and its pool does not back
  off; only a process's start waits for PostgreSQL for as long as it takes
  (docs/configuration.md, "When PostgreSQL goes away", has the measurements).
- ``RoomSQLiteRecorder``: the waiting room's log in a table of its own on SQLite.
- ``CopyOnWriteRepository``: a cached aggregate is never changed in place
  (tests/integration/test_aggregate_cache.py).
- ``StoreApplication`` (every application of the project): the store prepared before the
  library builds it (``prepare_store``); ``CachingApplication`` (the ledger): the repository
  above, what was saved cached, and snapshots taken of the aggregate as saved
  (tests/integration/test_ledger.py, the snapshot tests).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from copy import deepcopy
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    ProjectorFunction,
    Repository,
)
from eventsourcing.persistence import (
    EventStore,
    InfrastructureFactory,
    Recording,
)
from eventsourcing.postgres import (
    PostgresFactory,
)
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore, SQLiteFactory
from eventsourcing.utils import Environment, get_topic, strtobool

from application.persistence.library_postgres import LedgerPostgresFactory
from application.persistence.storage import Store, again_if_created_meanwhile

log = logging.getLogger(__name__)
T = TypeVar("T")
A = TypeVar("A")


class RoomSQLiteRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, with a table of the room log's own."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "waiting_room_events") -> None:
        super().__init__(datastore, events_table_name)


def prepare_store(env: Environment) -> None:
    """Adjust ``env`` (and the disk) before the library builds the store from it."""
    module = env.get("PERSISTENCE_MODULE")
    if module == "eventsourcing.sqlite":
        db_name = env.get("SQLITE_DBNAME", "")
        if db_name and ":memory:" not in db_name and "mode=memory" not in db_name:
            Path(db_name.removeprefix("file:").split("?")[0]).parent.mkdir(parents=True, exist_ok=True)
    elif module == "eventsourcing.postgres":
        env["PERSISTENCE_MODULE"] = get_topic(LedgerPostgresFactory)


class StoreApplication(Application[UUID]):
    """An application of the project: its store prepared before the library builds it, and
    on SQLite recorded by ``sqlite_recorder`` if it names one (a table of its own)."""

    sqlite_recorder: type[SQLiteApplicationRecorder] | None = None

    def aggregate(self, aggregate_id: UUID, kind: type[A], version: int | None = None) -> A | None:
        """The aggregate with this id, if there is one and it is a ``kind``: a copy, to change,
        as it is now or at ``version`` (the library's ``get`` is typed for any aggregate)."""
        try:
            found: object = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, kind) else None

    def setting(self, name: str) -> str:
        """A setting that the class's ``env`` gives a default, as the environment has it now."""
        value = self.env.get(name)
        if value is None:
            raise KeyError(f"{name} has no default in {type(self).__name__}.env")
        return value

    @property
    def store(self) -> Store:
        """The factory of the application's store: one of the two the project supports."""
        if not isinstance(self.factory, (SQLiteFactory, PostgresFactory)):
            raise TypeError(f"{type(self.factory).__name__} is not a store of this project: use SQLite or PostgreSQL.")
        return self.factory

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        prepare_store(env)
        if self.sqlite_recorder and env.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite":
            env[InfrastructureFactory.APPLICATION_RECORDER_TOPIC] = get_topic(self.sqlite_recorder)
        return super().construct_factory(env)


class CachingApplication(StoreApplication):
    """The ledger's tuning: hot aggregates cached (copy-on-write) and fast-forwarded, what
    was saved cached at once, snapshots taken of the aggregate as saved."""

    def construct_repository(self) -> Repository[UUID]:
        """The library's repository, with its cache made copy-on-write
        (``application.persistence.repository``), always fast-forwarded, and always copied for the
        caller: the ledger changes the aggregates it gets."""
        maxsize = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        return CopyOnWriteRepository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=int(maxsize) if maxsize else None,
            fastforward_skipping=strtobool(self.env.get(self.AGGREGATE_CACHE_FASTFORWARD_SKIPPING, "n")),
        )

    def construct_snapshot_store(self) -> EventStore[UUID]:
        # The library's snapshot table has no lock of ours around its creation.
        return again_if_created_meanwhile(super().construct_snapshot_store)

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Also cache what was just saved, so the next get need not read back this
        process's own events (the library caches on save only without fast-forward).
        Safe because the cache is copy-on-write and the ledger never changes an
        aggregate after saving it."""
        recordings = super()._record(processing_event)
        if self.repository.cache is not None:
            for aggregate_id, aggregate in processing_event.aggregates.items():
                self.repository.cache.put(aggregate_id, aggregate)
        return recordings

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshot each saved aggregate whose recording crossed a multiple of its interval,
        as it is now. The library would snapshot it at the crossing version, which it
        first rebuilds from the store (the last snapshot and up to 499 events): 3 % of a
        worker's CPU on a hot tier. The ledger has the aggregate in hand, just recorded,
        and never changes it afterwards, so a snapshot of it is as true and costs one write."""
        if self.snapshots is None:
            return
        saved = processing_event.aggregates
        due = {
            event.originator_id
            for event in processing_event.events
            if event.originator_id in saved
            and (interval := self.snapshotting_intervals.get(type(saved[event.originator_id])))
            and event.originator_version % interval == 0
        }
        for aggregate_id in due:
            aggregate = saved[aggregate_id]
            snapshot_class = getattr(type(aggregate), "Snapshot", None) or type(self).snapshot_class
            if snapshot_class is not None:
                self.snapshots.put([snapshot_class.take(aggregate)])


class CopyOnWriteRepository(Repository[UUID]):
    """The library's repository, except that an aggregate in the cache is never changed.

    The library fast-forwards a cached aggregate in place, under a lock, but copies it
    for the caller only after releasing that lock, so a reader could copy a tier that
    another thread was half-way through advancing (its version one ahead of its sales).
    Here fast-forwarding advances a copy and caches that instead: cached objects are
    only ever replaced. The application's own ``save`` caches what it saved, so a saved
    aggregate must not be changed afterwards (the ledger decides on fresh copies).
    """

    def get(
        self,
        aggregate_id: Any,
        *,
        version: int | None = None,
        projector_func: ProjectorFunction[Any, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        projector_func = projector_func or mutate_in_turn
        if version is None and self.cache is not None:
            projector_func = self._advancing_a_copy(projector_func)
        return super().get(aggregate_id, version=version, projector_func=projector_func, **kwargs)

    def _advancing_a_copy(self, project: ProjectorFunction[Any, Any]) -> ProjectorFunction[Any, Any]:
        def advance(aggregate: Any, events: Iterable[Any]) -> Any:
            events = list(events)
            if aggregate is None or not events:  # rebuilt from the store, or nothing new
                return project(aggregate, events)
            advanced = project(deepcopy(aggregate), events)
            if self.cache is not None and advanced is not None:
                self.cache.put(advanced.id, advanced)
            return advanced

        return advance


def mutate_in_turn(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's ``project_aggregate`` without its ``isinstance`` check of each event
    against a runtime-checkable ``Protocol``, which took 1-2 % of a booking's CPU."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate
