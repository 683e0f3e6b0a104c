"""Preparing the ledger's store: the SQLite file's folder, PostgreSQL's DDL under a lock.

Processes that start together (gunicorn workers, ``python -m projections``, replicas)
each create the tables if needed. PostgreSQL refuses concurrent ``CREATE OR REPLACE``
of one object ("tuple concurrently updated"), and the library's recorder replaces its
insert function on every start, so the DDL runs under a transaction-level advisory
lock: one process at a time, the others wait a moment and find everything in place.

When PostgreSQL goes away, a request should learn it within a few seconds (503
``STORE_UNAVAILABLE``), and the service should reconnect as soon as it is back. With
the library's defaults it takes minutes: it retries each statement 10 times, and each
try waits up to ``POSTGRES_CONNECT_TIMEOUT`` (30 s) for a pooled connection. So the
ledger's default pool wait is short (``BookingLedger.env``), and ``LedgerPostgresFactory``
gives the library's recorders fewer tries and its pool no reconnection back-off. Only
a process's start waits for PostgreSQL for as long as it takes.
README, "When PostgreSQL goes away", has the measurements.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.utils import Environment, EnvType, get_topic, retry
from psycopg.errors import DuplicateObject, DuplicateTable
from psycopg.sql import SQL, Identifier

log = logging.getLogger(__name__)
T = TypeVar("T")
SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtext('ticket-ledger schema'))"
# Tries of a statement whose connection failed. The second, 0.2 s later, replaces a
# connection that a restart of PostgreSQL cut, which is what the library's retry is
# for; more tries only make a request wait longer while PostgreSQL is down, each up to
# POSTGRES_CONNECT_TIMEOUT for the pool. The library makes 10.
STORE_ATTEMPTS = 2
# Seconds psycopg_pool keeps trying to replace a lost connection (default 300), with
# waits from 1 s that double after each failure: after an 8 s outage its next try could
# come 7 s after PostgreSQL is back. Given up at once (after a second immediate try),
# the connection is made again when a request next finds the pool empty: straight away.
RECONNECT_TIMEOUT = 0.0


# The library's retry of a statement whose connection failed, ``STORE_ATTEMPTS`` times.
store_retry = retry((InterfaceError, OperationalError), max_attempts=STORE_ATTEMPTS, wait=0.2)


def bounded_retries(method: Callable[..., T]) -> Callable[..., T]:
    """A recorder ``method`` of the library, which its ``retry`` decorator wraps, retried
    the same way but ``STORE_ATTEMPTS`` times."""
    return store_retry(method.__wrapped__)


class BoundedRetriesAggregateRecorder(PostgresAggregateRecorder):
    """The library's aggregate recorder (the snapshots' store), with fewer tries."""

    insert_events = bounded_retries(PostgresAggregateRecorder.insert_events)
    select_events = bounded_retries(PostgresAggregateRecorder.select_events)


class LockedDDLPostgresRecorder(PostgresApplicationRecorder):
    """The library's application recorder, with its table creation serialised across
    processes, fewer tries, and each recording made by one statement.

    The library records events in a transaction of five statements (lock the table,
    notify, insert, sync, commit), each a round trip that a hot tier's writers take in
    turn while they hold the table's lock: at 16 connections that was a sixth of a
    worker's CPU. Its optional database function (``POSTGRES_ENABLE_DB_FUNCTIONS``)
    makes it one statement but leaves out the table lock, so notification ids could
    commit out of order and a reader following the tracked position could skip an event
    (``projections.read_model.follower``). So each recorder creates its own function,
    ``record_<events table>`` (the ledger and the waiting room's log share a schema),
    which takes the same lock first, and calls that: the same transaction in one round
    trip. It is created with the tables (``CREATE_TABLE``)."""

    select_events = bounded_retries(PostgresApplicationRecorder.select_events)
    select_notifications = bounded_retries(PostgresApplicationRecorder.select_notifications)
    max_notification_id = bounded_retries(PostgresApplicationRecorder.max_notification_id)

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema, table = Identifier(datastore.schema), Identifier(self.events_table_name)
        function = Identifier(f"record_{self.events_table_name}")  # one per table: apps share a schema
        self.record_statement = SQL("SELECT * FROM {0}.{1}(%b, %b, %b, %b) AS id").format(schema, function)
        self.sql_create_statements[self.create_insert_function_statement_index] = SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}("
            "ids {id_type}[], versions bigint[], topics text[], states bytea[]) "
            "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ BEGIN "
            "SET LOCAL lock_timeout = '{lock_timeout}s'; "
            "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
            "NOTIFY {channel}; "
            "RETURN QUERY INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(ids, versions, topics, states) RETURNING notification_id; "
            "END; $BODY$"
        ).format(schema=schema, function=function, table=table, id_type=Identifier(datastore.originator_id_type),
                 lock_timeout=datastore.lock_timeout, channel=Identifier(self.channel_name))

    @store_retry
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Record ``stored_events`` in one transaction, by one statement; their notification
        ids. The events go as four arrays in binary, which psycopg writes in C (a composite
        array, as the library sends them, is written in Python and its states in hex)."""
        columns = (
            [e.originator_id for e in stored_events], [e.originator_version for e in stored_events],
            [e.topic for e in stored_events], [e.state for e in stored_events],
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.record_statement, columns, prepare=True)
            return [row["id"] for row in curs.fetchall()]

    def create_table(self) -> None:
        # The library creates its composite type in a transaction of its own, before
        # the locked one.
        again_if_created_meanwhile(super().create_table)

    def _create_table(self, curs: Any) -> None:
        curs.execute(SCHEMA_LOCK)
        super()._create_table(curs)


class LedgerPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory, making the recorders above, with its connection
    pool set to reconnect on demand (psycopg_pool's ``reconnect_timeout``, for which the
    library has no setting), and waiting for PostgreSQL at start-up."""

    aggregate_recorder_class = BoundedRetriesAggregateRecorder
    application_recorder_class = LockedDDLPostgresRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.datastore.pool.reconnect_timeout = RECONNECT_TIMEOUT  # the pool opens on first use

    def application_recorder(self) -> ApplicationRecorder:
        """The application's first use of the store (type look-up, tables): tried again
        until PostgreSQL answers. Statements fail within seconds when it does not, but a
        process that starts during an outage must not fail with them: a gunicorn worker
        that fails to boot stops the whole server, and the projection process would exit."""
        while True:
            try:
                return super().application_recorder()
            except (OperationalError, InterfaceError) as error:
                log.warning("waiting for PostgreSQL: %s", error)
                time.sleep(1)


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
        env["PERSISTENCE_MODULE"] = get_topic(LedgerPostgresFactory)


def probe_store(factory: InfrastructureFactory, timeout: float) -> None:
    """Raise the store's error (``OperationalError`` when PostgreSQL is down) unless it
    answers a trivial statement now: one try (the recorders would try twice), and on
    PostgreSQL a ``statement_timeout`` of ``timeout`` seconds for this transaction only,
    so that a server that accepts connections but does not answer fails it too."""
    with factory.datastore.transaction(commit=False) as cursor:
        if isinstance(factory, PostgresFactory):
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{round(timeout * 1000)}ms"])
        cursor.execute("SELECT 1")
