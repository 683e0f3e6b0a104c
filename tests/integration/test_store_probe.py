"""``probe_store``, what ``/ready`` asks before anything else: one statement, no retry."""

from __future__ import annotations

from application import BookingLedger
from application.storage import probe_store


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
