"""The store's DDL under a lock, and a probe of whether it answers.

Processes that start together (gunicorn workers, ``python -m projections``, replicas)
each create the tables if needed. PostgreSQL refuses concurrent ``CREATE OR REPLACE``
of one object ("tuple concurrently updated"), and the library's recorder replaces its
insert function on every start, so the DDL runs under a transaction-level advisory
lock (``SCHEMA_LOCK``): one process at a time, the others wait a moment and find
everything in place; a loser of a race the lock cannot cover tries again
(``again_if_created_meanwhile``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
from eventsourcing.persistence import IntegrityError, OperationalError, ProgrammingError
from eventsourcing.postgres import PostgresFactory
from eventsourcing.sqlite import SQLiteFactory
from psycopg.errors import DuplicateObject, DuplicateTable

T = TypeVar("T")
Store = SQLiteFactory | PostgresFactory  # the two stores the project supports
SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtext('ticket-ledger schema'))"


def again_if_created_meanwhile(create: Callable[[], T]) -> T:
    """Run ``create`` (DDL); if a process starting at the same moment created the same
    catalog entry first, run it again: it then finds everything in place. Three
    tries, since a third process can win the second round. On SQLite, where two
    gunicorn workers starting together find the file locked by the other's DDL
    ("database is locked": a worker that fails to boot shuts the whole server down),
    it waits a moment and tries again, for up to about ``SQLITE_LOCKED_SECONDS``. A
    PostgreSQL that does not answer (a worker booting during a failover: seen in
    ``verify --cluster``, where the server whose worker failed so was shut down) is tried
    again every second for up to ``POSTGRES_AWAITED_SECONDS``."""
    races, waited = 0, 0.0
    while True:
        try:
            return create()
        except (IntegrityError, ProgrammingError) as error:
            races += 1
            if not created_meanwhile(error) or races > 2:
                raise
        except OperationalError as error:
            if isinstance(error.__cause__, psycopg.OperationalError):
                if waited >= POSTGRES_AWAITED_SECONDS:
                    raise
                time.sleep(1)
                waited += 1
                continue
            if not isinstance(error.__cause__, sqlite3.OperationalError) or "locked" not in str(error):
                raise
            if waited >= SQLITE_LOCKED_SECONDS:
                raise
            time.sleep(0.05)
            waited += 0.05


SQLITE_LOCKED_SECONDS = 10.0
# Longer than a failover (a host lost: Patroni's ttl of 20 s and the promotion, 20-25 s
# measured from outside; a partition 22-24 s), short enough that a store that is really
# gone stops the process with its error.
POSTGRES_AWAITED_SECONDS = 90.0


def created_meanwhile(error: Exception) -> bool:
    """How PostgreSQL refuses the loser of two concurrent creations: a unique violation
    on ``pg_type``, or, despite ``IF NOT EXISTS``, "relation already exists"
    (``DuplicateTable``, which the library reports as a ``ProgrammingError``)."""
    return isinstance(error, IntegrityError) or isinstance(error.__cause__, (DuplicateTable, DuplicateObject))


def probe_store(factory: Store, timeout: float) -> None:
    """Raise the store's error (``OperationalError`` when PostgreSQL is down) unless it
    answers a trivial statement now: one try (the recorders would try twice), and on
    PostgreSQL a ``statement_timeout`` of ``timeout`` seconds for this transaction only,
    so that a server that accepts connections but does not answer fails it too."""
    with factory.datastore.transaction(commit=False) as cursor:
        if isinstance(factory, PostgresFactory):
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{round(timeout * 1000)}ms"])
        cursor.execute("SELECT 1")
