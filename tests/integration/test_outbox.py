"""The outbox holds each integration event exactly once, in store order, and is
rebuilt from history byte for byte, however its pages fall and wherever it crashed."""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from application import BookingLedger
from projections.integrations.outbox import Outbox
from projections.integrations.store import IntegrationTables


def some_history(ledger: BookingLedger) -> None:
    ledger.create_tier("VIP", Decimal("100.00"), 4)
    ledger.create_tier("GA", Decimal("10.00"), 50)
    kept = ledger.book("alice", "VIP", 2)
    held = ledger.hold("bob", "VIP", 2)
    ledger.confirm_hold(held.booking_id, "bob")
    ledger.cancel(kept.booking_id, "alice")
    released = ledger.hold("carol", "GA", 3)
    ledger.release_hold(released.booking_id, "carol")
    ledger.add_capacity("GA", 5)
    ledger.change_price("GA", Decimal("12.00"), actor="member:mia")
    for n in range(6):
        ledger.book(f"u{n}", "GA", 1)
    ledger.close_sales("VIP")


def everything(tables: IntegrationTables) -> list[tuple[int, str]]:
    return [(e.position, e.body) for e in tables.notices_after(0, 10_000)]


def wipe(tables: IntegrationTables) -> None:
    with tables.transaction() as tx:
        for table in ("integration_events", "integration_tiers", "integration_holds"):
            tx.execute(f"DELETE FROM {{p}}{table}")
        tx.execute("UPDATE {p}integration_positions SET position = 0 WHERE name = 'outbox'")


def test_each_booking_is_announced_once_with_its_user_and_the_figures_after_it(ledger: BookingLedger):
    some_history(ledger)
    tables = IntegrationTables(ledger)
    Outbox(ledger, tables).catch_up()
    events = [json.loads(body) for _, body in everything(tables)]
    assert Counter(e["type"] for e in events) == {
        "tier.created": 2,
        "booking.confirmed": 7,
        "hold.placed": 2,
        "tier.sold_out": 1,
        "hold.confirmed": 1,
        "booking.cancelled": 1,
        "hold.released": 1,
        "tier.capacity_added": 1,
        "tier.price_changed": 1,
        "tier.sales_closed": 1,
    }
    repriced = next(e for e in events if e["type"] == "tier.price_changed")
    assert (repriced["tier"], repriced["price"], repriced["previousPrice"], repriced["capacity"]) == (
        "GA",
        "12.00",
        "10.00",
        55,
    )
    confirmed = next(e for e in events if e["type"] == "hold.confirmed")
    assert (confirmed["userId"], confirmed["tier"], confirmed["sold"], confirmed["availableQuantity"]) == (
        "bob",
        "VIP",
        4,
        0,
    )
    last = events[-1]
    assert (last["type"], last["tier"], last["capacity"], last["sold"]) == ("tier.sales_closed", "VIP", 4, 2)
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and len(set(e["id"] for e in events)) == len(events)


def test_a_rebuild_with_other_page_sizes_gives_the_same_rows_byte_for_byte(ledger: BookingLedger):
    some_history(ledger)
    tables = IntegrationTables(ledger)
    Outbox(ledger, tables).catch_up()
    first = everything(tables)
    for batch_size in (1, 3, 7):
        wipe(tables)
        Outbox(ledger, tables, batch_size=batch_size).catch_up()
        assert everything(tables) == first


def test_a_crash_mid_page_leaves_nothing_of_the_page_and_the_rest_follows(ledger: BookingLedger, monkeypatch):
    some_history(ledger)
    tables = IntegrationTables(ledger)
    Outbox(ledger, tables).catch_up()
    expected = everything(tables)
    wipe(tables)
    real_append, pages = tables.append, []

    def power_cut_in_page_three(tx, notices, state):
        pages.append(notices)
        real_append(tx, notices, state)  # the rows are written, then the transaction dies
        if len(pages) == 3:
            raise RuntimeError("power cut")

    monkeypatch.setattr(tables, "append", power_cut_in_page_three)
    with pytest.raises(RuntimeError):
        Outbox(ledger, tables, batch_size=4).catch_up()
    assert everything(tables) == expected[: len(pages[0]) + len(pages[1])]
    monkeypatch.undo()
    Outbox(ledger, tables, batch_size=4).catch_up()
    assert everything(tables) == expected


def test_two_outboxes_racing_write_each_event_once(store_env):
    with BookingLedger(env=store_env) as one, BookingLedger(env=store_env) as two:
        one.create_tier("VIP", Decimal("1.00"), 500)
        for n in range(60):
            one.book(f"u{n}", "VIP", 1)
        start = threading.Barrier(2)

        def catch_up(app: BookingLedger) -> int:
            outbox = Outbox(app, IntegrationTables(app), batch_size=7)
            start.wait()
            return outbox.catch_up()

        with ThreadPoolExecutor(2) as pool:
            mapped = list(pool.map(catch_up, (one, two)))
        assert sum(mapped) == 61  # each tier event written by exactly one of them
        events = [json.loads(body) for _, body in everything(IntegrationTables(one))]
        assert [e["type"] for e in events] == ["tier.created"] + ["booking.confirmed"] * 60
        assert events[-1]["sold"] == 60
