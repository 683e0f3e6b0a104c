"""``probe_store``, what ``/ready`` asks before anything else: one statement, no retry."""

from __future__ import annotations

import logging
import time
from decimal import Decimal

from eventsourcing.persistence import OperationalError
from eventsourcing.postgres import PostgresFactory

from application import BookingLedger
from application.persistence.postgres import RECONNECT_TIMEOUT
from application.persistence.storage import probe_store


def test_the_probe_passes_while_the_store_answers(ledger):
    probe_store(ledger.factory, 1.0)


def test_the_probe_statement_timeout_ends_with_its_transaction(postgres_env):
    """The timeout is the probe's own: the pooled connection (the only one here) goes
    back to the pool without it, so the ledger's statements are not cut short by it."""
    with BookingLedger(env={**postgres_env, "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "0"}) as ledger:
        probe_store(ledger.factory, 0.25)
        with ledger.factory.datastore.transaction(commit=False) as cursor:
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()["statement_timeout"] == "0"


def test_a_process_that_starts_while_postgresql_is_down_waits_for_it_and_says_so(postgres_env, monkeypatch, caplog):
    tries: list[float] = []
    first_use = PostgresFactory.application_recorder

    def down_at_first(factory):
        tries.append(time.monotonic())
        if len(tries) == 1:
            raise OperationalError("connection refused")
        return first_use(factory)

    monkeypatch.setattr(PostgresFactory, "application_recorder", down_at_first)
    with caplog.at_level(logging.WARNING, logger="application.persistence.postgres"):
        with BookingLedger(env=postgres_env) as ledger:
            assert ledger.factory.datastore.pool.reconnect_timeout == RECONNECT_TIMEOUT  # reconnect on demand
            ledger.create_tier("VIP", Decimal("1.00"), 1)
    assert len(tries) == 2 and 0.9 < tries[1] - tries[0] < 1.5
    assert [r.getMessage() for r in caplog.records if r.name == "application.persistence.postgres"] == [
        "waiting for PostgreSQL: connection refused"
    ]
