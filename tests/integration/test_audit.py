"""Auditing a tier against a real store, and catching tampered read tables."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from application import BookingLedger, TierNotFoundError
from application.audit.tier_audit import Problem, TierAudit
from application.errors import VersionNotFoundError
from projections import Projector, open_view
from tests.cli import ticketledger


@pytest.fixture
def audited(ledger: BookingLedger):
    """A short sale, projected: VIP created (5), ann books 2, bob books 1, ann cancels, +3 capacity."""
    ledger.create_tier("VIP", Decimal("100.00"), 5)
    ledger.create_tier("GA", Decimal("10.00"), 9)
    ann = ledger.book("ann", "VIP", 2)
    ledger.book("bob", "VIP", 1)
    ledger.cancel(ann.booking_id, "ann")
    ledger.add_capacity("VIP", 3)
    view = open_view(ledger)
    Projector(ledger, view).catch_up()
    return TierAudit(ledger), view


def test_the_history_gives_each_event_with_the_figures_after_it(audited):
    audit, _ = audited
    lines = audit.history("VIP")
    assert [
        (line.version, line.event, line.user_id, line.available_change, line.sold, line.available) for line in lines
    ] == [
        (1, "Created", None, 5, 0, 5),
        (2, "TicketsBooked", "ann", -2, 2, 3),
        (3, "TicketsBooked", "bob", -1, 3, 2),
        (4, "TicketsReleased", "ann", 2, 1, 4),
        (5, "CapacityAdded", None, 3, 1, 7),
    ]
    assert [line.version for line in audit.history("VIP", after=2, limit=2)] == [3, 4]
    assert audit.history("VIP", after=3, limit=1)[0].sold == 1


def test_the_tier_can_be_rebuilt_as_it_was_at_any_version_or_time(audited):
    audit, _ = audited
    assert (audit.tier_at("VIP", version=3).sold, audit.tier_at("VIP", version=3).available) == (3, 2)
    third = audit.history("VIP")[2].at
    assert audit.tier_at("VIP", at_time=third).version == 3
    assert audit.tier_at("VIP", at_time=datetime(2100, 1, 1, tzinfo=UTC)).version == 5
    with pytest.raises(VersionNotFoundError):
        audit.tier_at("VIP", version=6)
    with pytest.raises(VersionNotFoundError):
        audit.tier_at("VIP", at_time=datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(TierNotFoundError):
        audit.tier_at("NOPE")


def test_what_the_audit_cannot_find_it_names(audited):
    audit, _ = audited
    refusals = [
        (lambda: audit.tier_at("VIP", version=6), VersionNotFoundError, "Tier VIP has no version 6; its latest is 5."),
        (lambda: audit.tier_at("VIP", version=0), VersionNotFoundError, "Tier VIP has no version 0."),
        (
            lambda: audit.tier_at("VIP", at_time=datetime(2000, 1, 1, tzinfo=UTC)),
            VersionNotFoundError,
            "Tier VIP did not exist yet at 2000-01-01T00:00:00+00:00.",
        ),
        (lambda: audit.tier_at("NOPE", version=2), TierNotFoundError, "No tier 'NOPE'."),
        (lambda: audit.history("NOPE"), TierNotFoundError, "No tier 'NOPE'."),
    ]
    for ask, error, message in refusals:
        with pytest.raises(error) as refused:
            ask()
        assert str(refused.value) == message


def test_the_history_after_a_version_carries_on_from_the_figures_at_that_version(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("1.00"), 10)
    ledger.hold("ann", "VIP", 3)
    ledger.book("bob", "VIP", 2)
    ledger.add_capacity("VIP", 1)
    lines = TierAudit(ledger).history("VIP", after=2)
    assert [(line.version, line.capacity, line.sold, line.held, line.available) for line in lines] == [
        (3, 10, 2, 3, 5),
        (4, 11, 2, 3, 6),
    ]
    assert TierAudit(ledger).verify("VIP")[1] == []


def test_a_sound_sale_verifies_and_every_tier_is_found_in_the_events(audited):
    audit, view = audited
    assert audit.verify("VIP", view)[1] == []
    assert audit.tier_codes() == ["GA", "VIP"]


def tamper(view, statement: str) -> None:
    with view.datastore.transaction(commit=True) as cursor:
        cursor.execute(view.sql(statement))


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("UPDATE {availability} SET sold = sold + 1 WHERE tier = 'VIP'", "availability row for VIP"),
        ("UPDATE {bookings} SET quantity = 7 WHERE user_id = 'bob'", "7 ticket(s), confirmed"),
        ("UPDATE {bookings} SET status = 'confirmed' WHERE user_id = 'ann'", "2 ticket(s), confirmed"),
        ("DELETE FROM {bookings} WHERE user_id = 'bob'", "missing"),
        (
            "INSERT INTO {bookings} VALUES ('00000000-0000-4000-8000-000000000001', 'eve', 'VIP', 1, "
            "'confirmed', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', NULL)",
            "has no sale",
        ),
    ],
)
def test_a_tampered_read_table_fails_the_audit_naming_the_row(audited, statement, named):
    audit, view = audited
    tamper(view, statement)
    problems = audit.verify("VIP", view)[1]
    assert len(problems) == 1 and named in problems[0].message


def test_a_tampered_availability_row_is_reported_with_both_sides_figures(audited):
    audit, view = audited
    tamper(view, "UPDATE {availability} SET sold = sold + 1 WHERE tier = 'VIP'")
    assert [p.message for p in audit.verify("VIP", view)[1]] == [
        "availability row for VIP says capacity, sold, held, available 8, 2, 0, 6; the events say 8, 1, 0, 7"
    ]
    tamper(view, "DELETE FROM {availability} WHERE tier = 'VIP'")
    assert audit.verify("VIP", view)[1] == [Problem(None, "availability has no row for VIP")]


def rewrite_event(ledger: BookingLedger, version: int, topic: str, **fields: Any) -> None:
    """Rewrite fields of the stored event ``topic`` at ``version`` in the events table."""
    table = getattr(ledger.recorder, "events_table_name", "stored_events")
    schema = getattr(ledger.recorder.datastore, "schema", None)
    qualified, marker = (f'"{schema}".{table}', "%s") if schema else (table, "?")
    where = f"WHERE originator_version = {version} AND topic = {marker}"
    with ledger.recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(f"SELECT state FROM {qualified} {where}", (topic,))
        state = json.loads(bytes(cursor.fetchone()["state"]))
        state.update(fields)
        cursor.execute(f"UPDATE {qualified} SET state = {marker} {where}", (json.dumps(state).encode(), topic))


def test_an_event_changed_in_the_store_after_the_fact_is_caught(ledger: BookingLedger):
    """A cancellation's quantity rewritten from 2 to 1 in the events table: the replay
    names the event, and this process, which still holds the tier as it recorded it,
    disagrees with the replay."""
    ledger.create_tier("VIP", Decimal("1.00"), 5)
    booking_id = ledger.book("ann", "VIP", 2).booking_id
    ledger.cancel(booking_id, "ann")
    rewrite_event(ledger, 3, "domain.tiers:TicketTier.TicketsReleased", quantity=1)
    assert [(p.version, p.message) for p in TierAudit(ledger).verify("VIP")[1]] == [
        (3, f"booking {booking_id} releases 1 ticket(s) but booked 2"),
        (3, "the replay disagrees with the aggregate"),
        (3, "sold is not the sum of confirmed bookings"),
    ]


def test_a_price_change_is_in_the_history_and_its_price_in_the_read_tables_is_checked(audited):
    audit, view = audited
    audit.ledger.change_price("VIP", Decimal("80.00"), actor="member:mia")
    Projector(audit.ledger, view).catch_up()
    line = audit.history("VIP", after=5)[0]
    assert (line.version, line.event, line.available_change, line.available) == (6, "PriceChanged", 0, 7)
    assert audit.tier_at("VIP", version=5).price == Decimal("100.00")
    assert audit.verify("VIP", view)[1] == []
    tamper(view, "UPDATE {availability} SET price = 100 WHERE tier = 'VIP'")
    assert [p.message for p in audit.verify("VIP", view)[1]] == [
        "availability row for VIP says price 100.00; the events say 80.00"
    ]


def test_a_price_change_rewritten_in_the_store_is_caught(ledger: BookingLedger):
    """Each change starts from the price the tier had: a change whose price before was
    rewritten does not, and the new price it sets disagrees with this process's tier."""
    ledger.create_tier("VIP", Decimal("100.00"), 5)
    ledger.change_price("VIP", Decimal("80.00"))
    ledger.change_price("VIP", Decimal("90.00"))
    rewrite_event(
        ledger,
        3,
        "domain.tiers:TicketTier.PriceChanged",
        old_price={"_type_": "decimal_str", "_data_": "70.00"},
        new_price={"_type_": "decimal_str", "_data_": "95.00"},
    )
    assert [(p.version, p.message) for p in TierAudit(ledger).verify("VIP")[1]] == [
        (3, "the price changes from 70.00, but it was 80.00"),
        (3, "the replay disagrees with the aggregate"),
    ]


def test_a_history_with_a_gap_is_reported_not_raised(ledger: BookingLedger, store_env):
    """What asynchronous replication left behind in a failover (docs/production.md): a
    process whose cached tier was ahead of the promoted standby recorded the next version
    after a gap. The library cannot rebuild such a tier; the audit names where it breaks."""
    ledger.create_tier("VIP", Decimal("1.00"), 5)
    ledger.book("ann", "VIP", 1)  # version 2
    ahead = ledger.find_tier("VIP")
    ahead.add_capacity(1)  # version 3, never stored: lost with the old primary
    ahead.add_capacity(1)  # version 4, decided on it and stored
    ledger.events.put(ahead.collect_events()[1:])
    with BookingLedger(env=store_env) as fresh:  # a process without the tier cached
        lines, problems = TierAudit(fresh).verify("VIP")
    assert [line.version for line in lines] == [1, 2, 4]
    assert problems[0] == Problem(4, "version 4 follows version 2")
    assert problems[-1].message.startswith("the library cannot rebuild the tier: OriginatorVersionError")


def run_audit(env: dict, *args: str) -> subprocess.CompletedProcess:
    return ticketledger("audit", *args, env=env)


def test_the_audit_script_prints_json_lines_and_fails_on_a_tampered_row(store_env, audited):
    audit, view = audited
    clean = run_audit(store_env, "VIP", "--json")
    assert clean.returncode == 0, clean.stderr
    assert [json.loads(line)["available"] for line in clean.stdout.splitlines()] == [5, 3, 2, 4, 7]
    everything = run_audit(store_env, "--all")
    assert everything.returncode == 0 and "TOTAL" in everything.stdout and "VIP" in everything.stdout
    tamper(view, "UPDATE {availability} SET capacity = 99 WHERE tier = 'GA'")
    broken = run_audit(store_env, "--all")
    assert broken.returncode == 1 and "availability row for GA" in broken.stderr
    then = run_audit(store_env, "VIP", "--at-version", "2", "--json")
    assert json.loads(then.stdout)["sold"] == 2
