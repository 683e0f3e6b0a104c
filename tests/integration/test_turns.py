"""Processes take turns on a hot tier (PostgreSQL): none decides on a version another
is about to record, so none loses a race to another."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from eventsourcing.persistence import IntegrityError
from psycopg.pq import TransactionStatus

from application import BookingLedger
from application.booking.observer import LedgerObserver
from application.booking.turns import TierTurns
from scripts.harness import delay_proxy
from scripts.harness.processes import free_port
from tests.conftest import connect_postgres
from tests.integration.race import race


class Conflicts(LedgerObserver):
    def __init__(self) -> None:
        self.count = 0

    def conflict(self) -> None:
        self.count += 1


@pytest.mark.postgres
def test_two_processes_booking_one_tier_never_lose_a_race_to_each_other(postgres_env):
    with BookingLedger(env=postgres_env) as one, BookingLedger(env=postgres_env) as two:
        one.create_tier("VIP", Decimal("1.00"), 10_000)
        one.observer, two.observer = Conflicts(), Conflicts()
        with ThreadPoolExecutor(2) as both:
            for _ in range(5):
                outcomes = list(both.map(lambda ledger: race(ledger, "VIP", 16), (one, two)))
                assert outcomes == [{"booked": 16}] * 2
        assert (one.observer.count, two.observer.count) == (0, 0)
        assert one.get_tier("VIP").sold == 160


def turn_is_free(env: dict[str, str], tier: str) -> bool:
    """Whether another session could take ``tier``'s turn now (and gives it straight back)."""
    with connect_postgres(env) as conn, conn.transaction():
        return conn.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended('ticket-ledger tier:' || %s, 0))", [tier]
        ).fetchone()[0]


@pytest.mark.postgres
def test_a_turn_is_held_for_the_block_and_given_back_after_it_even_when_it_fails(postgres_env):
    # Turns are the database's advisory locks, shared by every schema: codes of this test's own,
    # so that tests running beside it, on GA and VIP, cannot make a turn look taken.
    ga, vip, front = (f"{postgres_env['POSTGRES_SCHEMA']}-{code}" for code in ("GA", "VIP", "FRONT_ROW"))
    with BookingLedger(env=postgres_env) as ledger:
        turns = TierTurns(ledger.factory.datastore)
        with turns.of([ga, vip, ga]):
            assert not turn_is_free(postgres_env, ga) and not turn_is_free(postgres_env, vip)
            assert turn_is_free(postgres_env, front)
        assert turn_is_free(postgres_env, ga) and turn_is_free(postgres_env, vip)
        with pytest.raises(RuntimeError), turns.of([vip]):
            raise RuntimeError("the batch failed")
        assert turn_is_free(postgres_env, vip)
        with ledger.factory.datastore.get_connection() as conn:  # the pooled connection is back, idle
            assert conn.info.transaction_status == TransactionStatus.IDLE


@pytest.mark.postgres
def test_a_tier_code_is_never_read_as_sql(postgres_env):
    with BookingLedger(env=postgres_env) as ledger, TierTurns(ledger.factory.datastore).of(["x'); DROP TABLE y; --"]):
        assert not turn_is_free(postgres_env, "x'); DROP TABLE y; --")


@pytest.mark.postgres
def test_giving_a_turn_back_keeps_the_connections_prepared_statements(postgres_env):
    """The ledger's reads and recordings are prepared statements on pooled connections; a
    turn given back by ``ROLLBACK`` made psycopg drop them all (``DEALLOCATE ALL``) and
    prepare each again: three round trips more per batch, across a network a millisecond each."""
    with BookingLedger(env={**postgres_env, "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "0"}) as ledger:
        datastore = ledger.factory.datastore
        with datastore.get_connection() as conn:
            conn.execute("SELECT %s::int", [1], prepare=True)
        with TierTurns(datastore).of(["VIP"]):
            pass
        with datastore.get_connection() as conn:  # the same one: the pool has one
            assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()["count"] == 1


@pytest.mark.postgres
def test_a_recording_in_a_turn_ends_the_turn_in_the_same_flight(postgres_env):
    """Recorded and committed with the turn's own transaction: the turn is free as soon as
    the events are stored, not a round trip later when the block ends."""
    code = f"T{postgres_env['POSTGRES_SCHEMA'][-12:].upper()}"  # turns are the database's: a code no other test holds
    with BookingLedger(env=postgres_env) as ledger:
        ledger.create_tier(code, Decimal("1.00"), 10)
        with TierTurns(ledger.factory.datastore).of([code]):
            tier = ledger.find_tier(code)
            tier.add_capacity(5)
            ledger.save(tier)
            assert turn_is_free(postgres_env, code)
        with BookingLedger(env=postgres_env) as other:
            assert other.get_tier(code).capacity == 15


@pytest.mark.postgres
def test_a_recording_refused_in_a_turn_gives_the_turn_back_and_the_next_is_recorded_as_usual(postgres_env):
    """A version conflict ends the turn's transaction (its COMMIT, sent with the recording,
    becomes a rollback): the turn is free, and a recording decided again on the tier as it
    is now is stored all the same, on the version check alone."""
    code = f"T{postgres_env['POSTGRES_SCHEMA'][-12:].upper()}"  # turns are the database's: a code of its own
    with BookingLedger(env=postgres_env) as ledger, BookingLedger(env=postgres_env) as other:
        ledger.create_tier(code, Decimal("1.00"), 10)
        stale = ledger.find_tier(code)
        changed = other.find_tier(code)
        changed.add_capacity(1)
        other.save(changed)
        with TierTurns(ledger.factory.datastore).of([code]):
            stale.add_capacity(5)
            with pytest.raises(IntegrityError):
                ledger.save(stale)
            assert turn_is_free(postgres_env, code)
            fresh = ledger.find_tier(code)
            fresh.add_capacity(5)
            ledger.save(fresh)
        assert other.get_tier(code).capacity == 16
        with ledger.factory.datastore.get_connection() as conn:  # nothing left open on the pool
            assert conn.info.transaction_status == TransactionStatus.IDLE


@pytest.mark.postgres
def test_a_batch_on_a_tier_another_process_changed_takes_two_round_trips(postgres_env):
    """The turn reads the tier's new events in the flight that takes it, and the recording
    commits the turn: two round trips per batch, where a separate read made three (what a
    web host far from the primary waits for, each round trip tens of milliseconds)."""
    code = f"T{postgres_env['POSTGRES_SCHEMA'][-12:].upper()}"  # turns are the database's: a code of its own
    listen, stats = free_port(), free_port()
    upstream = f"{postgres_env['POSTGRES_HOST']}:{postgres_env['POSTGRES_PORT']}"
    proxy = delay_proxy.start(0, upstream, [f"127.0.0.1:{listen}"], f"127.0.0.1:{stats}")
    far = {**postgres_env, "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(listen)}
    try:
        with BookingLedger(env=far) as ledger, BookingLedger(env=postgres_env) as other:
            ledger.create_tier(code, Decimal("1.00"), 100)
            ledger.book("ann", code, 1)  # the tier in ledger's cache
            other.book("bob", code, 2)  # and changed since by another process
            ledger.factory.datastore.pool.wait(timeout=30)  # no connection opening while counted
            before = round_trips(stats, listen)
            receipt = ledger.book("cy", code, 3)
            assert round_trips(stats, listen) - before == 2
            assert receipt.remaining == 100 - 6  # decided on the tier as the other process left it
    finally:
        proxy.terminate()
        proxy.wait(10)


def round_trips(stats: int, listen: int) -> int:
    with socket.create_connection(("127.0.0.1", stats)) as conn:
        return json.loads(conn.makefile().readline())[f"127.0.0.1:{listen}"]["round_trips"]
