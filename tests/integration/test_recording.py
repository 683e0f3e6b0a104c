"""The ledger's one-statement recording on PostgreSQL (``application.persistence.postgres``): it keeps
the library's guarantees, notification ids in commit order and a refused version."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from application import BookingLedger
from application.waiting_room.log import WaitingRoomLog
from domain.tiers import tier_id
from tests.conftest import connect_postgres

pytestmark = pytest.mark.postgres


def test_a_recording_waits_for_a_writer_that_started_first(postgres_env):
    """Without the table lock (the library's own database function) a second writer's
    ids could commit before the first's: the recording would go through at once here."""
    settings = {**postgres_env, "POSTGRES_LOCK_TIMEOUT": "1", "POSTGRES_WRITE_TIMEOUT_MS": "5000"}
    with BookingLedger(env=settings) as ledger:
        ledger.create_tier("GA", Decimal("50.00"), 10)
        events_table = f'"{postgres_env["POSTGRES_SCHEMA"]}"."{ledger.recorder.events_table_name}"'
        with connect_postgres(postgres_env) as writer, writer.transaction():
            writer.execute(f"LOCK TABLE {events_table} IN ROW EXCLUSIVE MODE")  # what an INSERT holds
            with pytest.raises(OperationalError, match="lock timeout"):
                ledger.book("ann", "GA", 1)
        assert ledger.book("ann", "GA", 1).quantity == 1  # and goes through once the writer is done


def test_a_recording_returns_its_notification_ids_and_refuses_a_taken_version(postgres_env):
    with BookingLedger(env=postgres_env) as ledger:
        ledger.create_tier("GA", Decimal("50.00"), 10)
        [stored] = ledger.recorder.select_events(tier_id("GA"))
        head = ledger.recorder.max_notification_id()
        again = type(stored)(stored.originator_id, stored.originator_version + 1, stored.topic, stored.state)
        assert ledger.recorder.insert_events([again]) == [head + 1]
        with pytest.raises(IntegrityError):
            ledger.recorder.insert_events([again])
        assert ledger.recorder.max_notification_id() == head + 1


def test_each_application_in_a_schema_records_into_its_own_table(postgres_env):
    """The ledger and the waiting room's log share the schema; one function for both
    (the last one created) put the ledger's events in the log's table."""
    with BookingLedger(env=postgres_env) as ledger, WaitingRoomLog(env=postgres_env) as rooms:
        ledger.create_tier("GA", Decimal("50.00"), 10)
        ledger.book("ann", "GA", 1)
        assert [e.originator_version for e in ledger.recorder.select_events(tier_id("GA"))] == [1, 2]
        assert rooms.recorder.max_notification_id() is None
