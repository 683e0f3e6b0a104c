"""The tier list read from a standby while the primary does not answer (``READ_REPLICA``;
docs/production.md). Here the "standby" is the same PostgreSQL reached by a second pool,
which is what a replica's read tables are: the same rows, a replay lag behind."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eventsourcing.persistence import OperationalError

from application import BookingLedger
from projections import Projector, open_view
from projections.read_model.replica import falling_back, replica_view


@pytest.mark.postgres
def test_a_replica_view_reads_the_same_read_tables_through_its_own_connections(postgres_env):
    with BookingLedger(env=postgres_env) as ledger:
        ledger.create_tier("VIP", Decimal("100.00"), 5)
        ledger.book("ann", "VIP", 2)
        view = open_view(ledger)
        Projector(ledger, view).catch_up()
        replica = replica_view(ledger, f"{postgres_env['POSTGRES_HOST']}:{postgres_env['POSTGRES_PORT']}")
        assert replica.list_tiers() == view.list_tiers()
        assert replica.datastore is not ledger.factory.datastore
        assert [tier.available for tier in replica.list_tiers()] == [3]


def test_the_tier_list_comes_from_the_replica_only_while_the_primary_does_not_answer():
    answers = {"primary": ["from the primary"], "replica": ["from the replica"]}
    down = False

    def primary() -> list[str]:
        if down:
            raise OperationalError("connection refused")
        return answers["primary"]

    read = falling_back(primary, lambda: answers["replica"])
    assert read() == ["from the primary"]
    down = True
    assert read() == ["from the replica"]


def test_sqlite_has_no_standby_to_read(tmp_path):
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "ledger.sqlite3")}
    with BookingLedger(env=env) as ledger, pytest.raises(ValueError, match="READ_REPLICA is for PostgreSQL"):
        replica_view(ledger, "127.0.0.1:5001")
