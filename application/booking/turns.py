"""Taking turns to write a tier, across processes: fewer lost races on a hot tier.

Two processes that decide bookings on the same tier version at once cannot both record
them: the version check refuses the second, which reads the first one's events and
decides again. On a hot tier shared by two gunicorn workers that happens on most
commits, and a run of such losses is what made the latency tail. So, on PostgreSQL, a
process takes each tier's turn before it reads the tier and gives it up once its batch
is recorded; the other process waits meanwhile, gathering a larger batch.

A turn only schedules work. The version check stays the guard: a turn lost with its
connection lets two writers overlap, which costs a retry, never a wrong recording.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext, suppress
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Composable, Literal

from application.persistence.deadline import remaining_ms
from application.persistence.postgres import LockedDDLPostgresRecorder, events_read_ahead, recording_ends_turn

# A transaction-level advisory lock: ended with the transaction that holds it, however
# the process leaves it (an error, a lost connection, a killed worker).
TAKE_TURN = SQL("SELECT pg_advisory_xact_lock(hashtextextended('ticket-ledger tier:' || {}, 0))")


class TierTurns:
    """Turns of the tiers of one PostgreSQL store; given its recorder, the turns read ahead."""

    def __init__(self, datastore: PostgresDatastore, recorder: LockedDDLPostgresRecorder | None = None) -> None:
        self.datastore = datastore
        self.recorder = recorder

    @contextmanager
    def of(self, tiers: Iterable[str], after: Mapping[UUID, int] | None = None) -> Iterator[None]:
        """Hold the turns of ``tiers`` for the duration of the block; they are taken in
        code order, so two processes never wait for each other. The transaction and its
        locks are begun by one statement (a round trip fewer than psycopg's
        ``transaction()``, which sends ``BEGIN`` alone), and ended by ``COMMIT`` after the
        block: it wrote nothing, so that is a rollback in effect, but psycopg answers a
        ``ROLLBACK`` by forgetting the connection's prepared statements (``DEALLOCATE ALL``,
        then each prepared again on its next use): three round trips more per batch.

        Within a store deadline (``application/persistence/deadline.py``) the wait for a turn
        ends with it on the server too (``lock_timeout``): a transaction stuck in its commit
        holds its tiers' turns and the events table's lock, and a process that gave up waiting
        must not leave a backend queued behind it. Nothing is written yet, so a refusal is
        safe, and it comes a little before the deadline: "nothing recorded" (503
        ``STORE_UNAVAILABLE``) says more than "unknown". The recording's wait for the table's
        lock is bounded by the same setting (``LockedDDLPostgresRecorder``).

        Given ``after`` (tier ids and the versions this process has of them), the same flight
        reads each tier's events since, once its turn is taken, and the block's fast-forward
        of those tiers is served from that read (``events_read_ahead``): a batch is then two
        round trips, the turn with the read and the recording with the commit, where it was
        three. That is the round trip that matters most to a web host far from the primary:
        the turn is held for it (docs/performance.md, "Far regions")."""
        take: Composable = SQL("BEGIN; ")
        if (timeout_ms := remaining_ms()) is not None:  # most of it: a refusal is a clearer answer
            take += SQL("SET LOCAL lock_timeout = {}; ").format(Literal(f"{max(1, timeout_ms * 4 // 5)}ms"))
        take += SQL("; ").join(TAKE_TURN.format(Literal(tier)) for tier in sorted(set(tiers)))
        read_ahead = after if self.recorder is not None and after else None
        if self.recorder is not None and read_ahead:
            take += SQL("; ") + self.recorder.events_after(read_ahead)
        with self.datastore.get_connection() as conn:
            try:
                cursor = conn.execute(take)
                while cursor.nextset():  # to the last statement's rows: the events read ahead
                    pass
                ahead = events_read_ahead(read_ahead, cursor.fetchall()) if read_ahead else nullcontext()
                with recording_ends_turn(conn), ahead:
                    yield
            finally:
                # The block's outcome stands, whatever giving the turns back meets: a
                # connection that PostgreSQL closed meanwhile (its idle-in-transaction
                # timeout, a restart) took its turns with it.
                with suppress(Exception):
                    conn.commit()


class NoTurns:
    """Where one process writes at a time anyway (SQLite): nothing to take."""

    @contextmanager
    def of(self, tiers: Iterable[str], after: Mapping[UUID, int] | None = None) -> Iterator[None]:
        yield
