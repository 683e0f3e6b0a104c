"""``StoreApplication``: the library's ``Application`` as the project's applications need it.
Why each override, and what guards it: the index, ``application/persistence/__init__.py``."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent, Repository
from eventsourcing.persistence import EventStore, InfrastructureFactory, Recording
from eventsourcing.postgres import PostgresFactory
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteFactory
from eventsourcing.utils import Environment, get_topic, strtobool

from application.persistence.postgres import LedgerPostgresFactory
from application.persistence.repository import CopyOnWriteRepository
from application.persistence.storage import Store, again_if_created_meanwhile

A = TypeVar("A")


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
    """An application of the project: its store prepared before the library builds it (on
    SQLite recorded by ``sqlite_recorder`` if it names one: a table of its own). Where its
    ``env`` gives a cache (the ledger's does), hot aggregates are cached copy-on-write and
    fast-forwarded and what was saved is cached at once; where it snapshots, a snapshot is
    of the aggregate as saved. Either way it must not change an aggregate after saving it."""

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

    def construct_repository(self) -> Repository[UUID]:
        """The library's repository, with its cache made copy-on-write, always fast-forwarded,
        and always copied for the caller: the ledger changes the aggregates it gets."""
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
        Safe because the cache is copy-on-write and an aggregate is not changed after it
        was saved."""
        recordings = super()._record(processing_event)
        if self.repository.cache is not None:
            for aggregate_id, aggregate in processing_event.aggregates.items():
                self.repository.cache.put(aggregate_id, aggregate)
        return recordings

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshot each saved aggregate whose recording crossed a multiple of its interval,
        as it is now. The library would snapshot it at the crossing version, which it
        first rebuilds from the store (the last snapshot and up to 499 events), on a hot
        tier every few seconds. The aggregate is in hand, just recorded, and is not
        changed afterwards, so a snapshot of it is as true and costs one write."""
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
