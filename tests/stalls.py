"""Real stalls of PostgreSQL for the tests of prompt answers (``application/persistence/deadline.py``):
a commit held in its ``COMMIT``, and who is left waiting for a tier's turn."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.conftest import connect_postgres

EVENTS_TABLE = "bookingledger_events"  # the ledger's events table (its recorder's ``events_table_name``)


@contextmanager
def commits_stalled(env: dict[str, str], seconds: float) -> Iterator[None]:
    """Every commit of the ledger's events in ``env``'s schema waits ``seconds`` in its
    ``COMMIT`` while the block runs (a deferred constraint trigger sleeping, as a commit
    waits for a lost synchronous standby); a commit already stalled when the block ends
    finishes its sleep and commits."""
    schema = env["POSTGRES_SCHEMA"]
    with connect_postgres(env) as conn:
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{schema}".stall (seconds float8)')
        conn.execute(
            f'CREATE OR REPLACE FUNCTION "{schema}".stall() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
            f'PERFORM pg_sleep(coalesce((SELECT max(seconds) FROM "{schema}".stall), 0)); RETURN NULL; END $$'
        )
        conn.execute(f'DROP TRIGGER IF EXISTS stall ON "{schema}"."{EVENTS_TABLE}"')
        conn.execute(
            f'CREATE CONSTRAINT TRIGGER stall AFTER INSERT ON "{schema}"."{EVENTS_TABLE}" DEFERRABLE INITIALLY '
            f'DEFERRED FOR EACH ROW EXECUTE FUNCTION "{schema}".stall()'
        )
        conn.execute(f'INSERT INTO "{schema}".stall VALUES (%s)', [seconds / 2])  # two rows per booking
        try:
            yield
        finally:
            conn.execute(f'DELETE FROM "{schema}".stall')


def sessions_waiting_for_turn(env: dict[str, str], code: str) -> int:
    """Sessions queued for ``code``'s turn (``application/booking/turns.py``) right now."""
    with connect_postgres(env) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND ((classid::bigint << 32) | objid::bigint) = hashtextextended('ticket-ledger tier:' || %s, 0)",
            [code],
        ).fetchone()[0]


@contextmanager
def demoted(env: dict[str, str]) -> Iterator[None]:
    """While the block runs, every recording of the ledger's events in ``env``'s schema is
    refused as a primary that has just demoted itself refuses it (SQLSTATE 25006, "cannot
    execute INSERT in a read-only transaction"): what a web host meets in the second before
    HAProxy moves its connections to the new leader."""
    schema = env["POSTGRES_SCHEMA"]
    with connect_postgres(env) as conn:
        conn.execute(
            f'CREATE OR REPLACE FUNCTION "{schema}".demoted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
            "RAISE EXCEPTION 'cannot execute INSERT in a read-only transaction' USING ERRCODE = '25006'; END $$"
        )
        conn.execute(
            f'CREATE TRIGGER demoted BEFORE INSERT ON "{schema}"."{EVENTS_TABLE}" '
            f'FOR EACH ROW EXECUTE FUNCTION "{schema}".demoted()'
        )
        try:
            yield
        finally:
            conn.execute(f'DROP TRIGGER demoted ON "{schema}"."{EVENTS_TABLE}"')
