"""Preparing the ledger's store: the SQLite file's folder, PostgreSQL's DDL under a lock.

Processes that start together (gunicorn workers, ``python -m projections``, replicas)
each create the tables if needed. PostgreSQL refuses concurrent ``CREATE OR REPLACE``
of one object ("tuple concurrently updated"), and the library's recorder replaces its
insert function on every start, so the DDL runs under a transaction-level advisory
lock: one process at a time, the others wait a moment and find everything in place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import Environment, get_topic

SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtext('ticket-ledger schema'))"


class LockedDDLPostgresRecorder(PostgresApplicationRecorder):
    """The library's recorder, with its table creation serialised across processes."""

    def _create_table(self, curs: Any) -> None:
        curs.execute(SCHEMA_LOCK)
        super()._create_table(curs)


def prepare_store(env: Environment) -> None:
    """Adjust ``env`` (and the disk) before the library builds the store from it."""
    module = env.get("PERSISTENCE_MODULE")
    if module == "eventsourcing.sqlite":
        db_name = env.get("SQLITE_DBNAME", "")
        if db_name and ":memory:" not in db_name and "mode=memory" not in db_name:
            Path(db_name.removeprefix("file:").split("?")[0]).parent.mkdir(parents=True, exist_ok=True)
    elif module == "eventsourcing.postgres":
        env.setdefault("APPLICATION_RECORDER_TOPIC", get_topic(LockedDDLPostgresRecorder))
