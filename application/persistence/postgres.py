"""The library's PostgreSQL factory and recorders, as the project needs them: table creation
serialised across processes, a statement tried twice, a pool that reconnects on demand, and
each recording made by one statement (in a tier's turn, the one that ends it). Why each, and
what guards it: the index, ``application/persistence/__init__.py``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any, TypeVar, cast
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    InterfaceError,
    InternalError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
    PostgresRecorder,
)
from eventsourcing.utils import Environment, EnvType
from psycopg import Connection
from psycopg.pq import TransactionStatus
from psycopg.sql import SQL, Composable, Identifier, Literal

from application.persistence.deadline import BoundedConnection, BoundedPool, may_commit, pause_before_retry
from application.persistence.storage import SCHEMA_LOCK, again_if_created_meanwhile

log = logging.getLogger(__name__)
T = TypeVar("T")

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


RETRY_PAUSE = 0.2  # seconds before the second try, as the library waits


def store_retry(method: Callable[..., T]) -> Callable[..., T]:
    """The library's retry of a statement whose connection failed, ``STORE_ATTEMPTS`` times,
    ``RETRY_PAUSE`` apart, but within the request's store deadline (``deadline.py``): a pause
    that would end past it is not taken, the deadline's 503 is raised at once instead of
    the library's pause overrunning it (the refusal came up to 0.2 s after the write timeout)."""

    @functools.wraps(method)
    def retried(*args: Any, **kwargs: Any) -> T:
        for _ in range(STORE_ATTEMPTS - 1):
            try:
                return method(*args, **kwargs)
            except (InterfaceError, OperationalError) as error:
                pause_before_retry(RETRY_PAUSE, error)
        return method(*args, **kwargs)

    return retried


def bounded_retries(method: Callable[..., T]) -> Callable[..., T]:
    """A recorder ``method`` of the library, which its ``retry`` decorator wraps, retried
    the same way but ``STORE_ATTEMPTS`` times."""
    wrapped: Callable[..., T] = getattr(method, "__wrapped__")  # noqa: B009 - functools.wraps sets it
    return cast(Callable[..., T], store_retry(wrapped))


class BoundedRetriesAggregateRecorder(PostgresAggregateRecorder):
    """The library's aggregate recorder (the snapshots' store), with fewer tries."""

    _insert_events: Callable[..., Sequence[int] | None] = bounded_retries(PostgresAggregateRecorder.insert_events)
    select_events = bounded_retries(PostgresAggregateRecorder.select_events)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        may_commit()  # in a bounded block (``deadline.py``), a timeout from now on is an unknown outcome
        return self._insert_events(stored_events, **kwargs)


class LockedDDL(PostgresRecorder):
    """A recorder whose table creation runs under the store's DDL lock (``SCHEMA_LOCK``), one
    process at a time, and runs again if a process that started with it won a race the lock
    cannot cover (``again_if_created_meanwhile``)."""

    def create_table(self) -> None:
        # The library creates its composite types, and checks whether a tracking table
        # exists, outside the locked transaction.
        again_if_created_meanwhile(super().create_table)

    def _create_table(self, curs: Any) -> None:
        curs.execute(SCHEMA_LOCK)
        super()._create_table(curs)


class LockedDDLPostgresRecorder(LockedDDL, PostgresApplicationRecorder):
    """The library's application recorder, with its table creation serialised across
    processes, fewer tries, and each recording made by one statement.

    The library records events in a transaction of five statements (lock the table,
    notify, insert, sync, commit), each a round trip that a hot tier's writers take in
    turn while they hold the table's lock. Its optional database function (``POSTGRES_ENABLE_DB_FUNCTIONS``)
    makes it one statement but leaves out the table lock, so notification ids could
    commit out of order and a reader following the tracked position could skip an event
    (``projections.read_model.projector``). So each recorder creates its own function,
    ``record_<events table>`` (the ledger and the waiting room's log share a schema),
    which takes the same lock first, and calls that: the same transaction in one round
    trip. It is created with the tables (``CREATE_TABLE``). The lock is waited for up to
    ``POSTGRES_LOCK_TIMEOUT`` if that is set, otherwise up to the transaction's own
    ``lock_timeout`` (a tier's turn sets one within a store deadline: ``turns.py``)."""

    _select_events: Callable[..., Sequence[StoredEvent]] = bounded_retries(PostgresApplicationRecorder.select_events)
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
            "{set_lock_timeout}"
            "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
            "NOTIFY {channel}; "
            "RETURN QUERY INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(ids, versions, topics, states) RETURNING notification_id; "
            "END; $BODY$"
        ).format(
            schema=schema,
            function=function,
            table=table,
            id_type=Identifier(datastore.originator_id_type),
            set_lock_timeout=SQL(
                f"SET LOCAL lock_timeout = '{datastore.lock_timeout}s'; " if datastore.lock_timeout else ""
            ),
            channel=Identifier(self.channel_name),
        )

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """The originator's events, as the library reads them; a read of all its events after
        ``gt`` that a tier's turn made ahead (``events_read_ahead``) is served from that, once."""
        ahead = _READ_AHEAD.get()
        if ahead is not None and gt is not None and lte is None and not desc and limit is None:
            read = ahead.pop(UUID(str(originator_id)), None)
            if read is not None and read[0] <= gt:
                return [event for event in read[1] if event.originator_version > gt]
        return self._select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)

    def events_after(self, after: Mapping[UUID, int]) -> Composable:
        """One statement reading each originator's events after its version in ``after``."""
        wanted = SQL(" OR ").join(
            SQL("(originator_id = {} AND originator_version > {})").format(Literal(id_), Literal(version))
            for id_, version in after.items()
        )
        return SQL(
            "SELECT originator_id, originator_version, topic, state FROM {}.{} WHERE {} "
            "ORDER BY originator_id, originator_version"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name), wanted)

    @store_retry
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Record ``stored_events`` in one transaction, by one statement; their notification
        ids. The events go as four arrays in binary, which psycopg writes in C (a composite
        array, as the library sends them, is written in Python and its states in hex)."""
        columns = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        )
        may_commit()  # in a bounded block (``deadline.py``), a timeout from now on is an unknown outcome
        turn = _OPEN_TURN.get()
        if turn is not None and turn.info.transaction_status == TransactionStatus.INTRANS:
            return self._record_ending_turn(turn, columns)
        try:
            with self.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(self.record_statement, columns, prepare=True)
                return [row["id"] for row in curs.fetchall()]
        except InternalError as error:  # the library's translation of psycopg's
            if isinstance(error.__cause__, psycopg.errors.ReadOnlySqlTransaction):
                raise OperationalError(str(error)) from error  # as in TRANSLATED
            raise

    def _record_ending_turn(self, turn: Connection[Any], columns: tuple[list[Any], ...]) -> list[int]:
        """Record in the open transaction of a turn (``application/booking/turns.py``) and
        commit it in the same flight: the recording and the turn's end take one round trip
        where they took two, and the turn is held a round trip less. After a refusal (a
        version conflict) the turn's transaction is rolled back, and the turn with it: a
        retry in the same block records the usual way, on the version check alone, which is
        what decides anyway (a turn only schedules). The statement is not prepared: a
        prepared statement made inside a pipeline was once found missing on the server
        afterwards (``prepared statement "_pg3_7" does not exist``, a 500) in a history
        check with workers killed under gevent; unprepared, nothing is left to go missing."""
        try:
            with turn.cursor() as curs:
                with turn.pipeline():
                    curs.execute(self.record_statement, columns, prepare=False)
                    turn.execute("COMMIT")
                return [row["id"] for row in curs.fetchall()]
        except psycopg.Error as error:
            with suppress(psycopg.Error):
                turn.rollback()  # the turn ends here, whatever state the pipeline left
            raise next(ours for theirs, ours in TRANSLATED if isinstance(error, theirs))(str(error)) from error


# The connection of the tier turn this thread or greenlet holds, while it holds one
# (``recording_ends_turn``); greenlets each have their own context.
_OPEN_TURN: ContextVar[Connection[Any] | None] = ContextVar("open_turn", default=None)


@contextmanager
def recording_ends_turn(turn: Connection[Any]) -> Iterator[None]:
    """Within the block, a recording by this thread (or greenlet) is made in ``turn``'s open
    transaction, a tier's turn (``application/booking/turns.py``), and commits it in the
    same flight (``LockedDDLPostgresRecorder.insert_events``)."""
    opened = _OPEN_TURN.set(turn)
    try:
        yield
    finally:
        _OPEN_TURN.reset(opened)


# Events a tier's turn read in its first flight, by originator: (read after this version, the
# events), each served once to the fast-forward of that originator (``select_events``).
_READ_AHEAD: ContextVar[dict[UUID, tuple[int, list[StoredEvent]]] | None] = ContextVar("read_ahead", default=None)


@contextmanager
def events_read_ahead(after: Mapping[UUID, int], rows: Sequence[Mapping[str, Any]]) -> Iterator[None]:
    """Within the block, this thread's (or greenlet's) next read of each originator's events
    after its version in ``after`` is served from ``rows`` (read by ``events_after``): the
    tier's turn reads the tiers in the flight that takes their turns, a round trip less
    per batch (``application/booking/turns.py``)."""
    read: dict[UUID, tuple[int, list[StoredEvent]]] = {id_: (version, []) for id_, version in after.items()}
    for row in rows:
        read[row["originator_id"]][1].append(
            StoredEvent(row["originator_id"], row["originator_version"], row["topic"], row["state"])
        )
    token = _READ_AHEAD.set(read)
    try:
        yield
    finally:
        _READ_AHEAD.reset(token)


# psycopg's errors as the library's (``PostgresDatastore.get_connection`` translates the same way).
TRANSLATED: tuple[tuple[type[Exception], type[Exception]], ...] = (
    (psycopg.IntegrityError, IntegrityError),
    # A primary that has just demoted itself refuses writes until HAProxy moves the
    # connection to the new leader: nothing was recorded, so 503 and a retry, not a 500.
    (psycopg.errors.ReadOnlySqlTransaction, OperationalError),
    (psycopg.OperationalError, OperationalError),
    (psycopg.InterfaceError, InterfaceError),
    (psycopg.Error, PersistenceError),
)


class LedgerPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory, making the recorders above, with its connection
    pool set to reconnect on demand (psycopg_pool's ``reconnect_timeout``, for which the
    library has no setting), to make connections whose waits end at a request's deadline
    (``BoundedConnection``, psycopg_pool's ``connection_class``) and to wait for one of them
    no longer than that deadline either (``BoundedPool``), and waiting for PostgreSQL at
    start-up."""

    aggregate_recorder_class = BoundedRetriesAggregateRecorder
    application_recorder_class = LockedDDLPostgresRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.datastore.pool.reconnect_timeout = RECONNECT_TIMEOUT  # the pool opens on first use
        self.datastore.pool.connection_class = BoundedConnection
        self.datastore.pool.__class__ = BoundedPool  # the library makes the pool: only its wait is ours

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
