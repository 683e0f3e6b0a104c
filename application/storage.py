"""Preparing the ledger's store: the SQLite file's folder, PostgreSQL's DDL under a lock.

Processes that start together (gunicorn workers, ``python -m projections``, replicas)
each create the tables if needed. PostgreSQL refuses concurrent ``CREATE OR REPLACE``
of one object ("tuple concurrently updated"), and the library's recorder replaces its
insert function on every start, so the DDL runs under a transaction-level advisory
lock: one process at a time, the others wait a moment and find everything in place.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from eventsourcing.persistence import IntegrityError, ProgrammingError
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import Environment, get_topic
from psycopg.errors import DuplicateObject, DuplicateTable

T = TypeVar("T")
SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtext('ticket-ledger schema'))"


class LockedDDLPostgresRecorder(PostgresApplicationRecorder):
    """The library's recorder, with its table creation serialised across processes."""

    def create_table(self) -> None:
        # The library creates its composite type in a transaction of its own, before
        # the locked one.
        again_if_created_meanwhile(super().create_table)

    def _create_table(self, curs: Any) -> None:
        curs.execute(SCHEMA_LOCK)
        super()._create_table(curs)


def again_if_created_meanwhile(create: Callable[[], T]) -> T:
    """Run ``create`` (DDL); if a process starting at the same moment created the same
    catalog entry first, run it again: it then finds everything in place. Three
    tries, since a third process can win the second round."""
    for _ in range(2):
        try:
            return create()
        except (IntegrityError, ProgrammingError) as error:
            if not created_meanwhile(error):
                raise
    return create()


def created_meanwhile(error: Exception) -> bool:
    """How PostgreSQL refuses the loser of two concurrent creations: a unique violation
    on ``pg_type`` (seen in 2 of 15 starts of 8 processes), or, despite ``IF NOT
    EXISTS``, "relation already exists" (``DuplicateTable``, which the library reports
    as a ``ProgrammingError``: seen when a gunicorn worker and the projection process
    started together on an empty schema; gunicorn then shut down, "Worker failed to boot")."""
    return isinstance(error, IntegrityError) or isinstance(error.__cause__, (DuplicateTable, DuplicateObject))


def prepare_store(env: Environment) -> None:
    """Adjust ``env`` (and the disk) before the library builds the store from it."""
    module = env.get("PERSISTENCE_MODULE")
    if module == "eventsourcing.sqlite":
        db_name = env.get("SQLITE_DBNAME", "")
        if db_name and ":memory:" not in db_name and "mode=memory" not in db_name:
            Path(db_name.removeprefix("file:").split("?")[0]).parent.mkdir(parents=True, exist_ok=True)
    elif module == "eventsourcing.postgres":
        env.setdefault("APPLICATION_RECORDER_TOPIC", get_topic(LockedDDLPostgresRecorder))
