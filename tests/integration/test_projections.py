"""The read tables follow the event stream exactly once and can be rebuilt at any time."""

from __future__ import annotations

import signal
import threading
from decimal import Decimal

import pytest
from eventsourcing.persistence import InfrastructureFactory, IntegrityError, InterfaceError, OperationalError
from eventsourcing.utils import Environment

from application import BookingLedger
from projections import LedgerProjection, LedgerView, Projector, open_view
from projections.read_model.rebuild import rebuild
from scripts.harness.processes import run_projection_process, wait_for


def tables(view: LedgerView) -> tuple[list, list]:
    return view.list_tiers(), view.all_bookings()


def some_history(ledger: BookingLedger) -> None:
    ledger.create_tier("VIP", Decimal("100.00"), 10)
    ledger.create_tier("GA", Decimal("10.00"), 50)
    kept = ledger.book("u1", "VIP", 2)
    dropped = ledger.book("u2", "GA", 5)
    ledger.cancel(dropped.booking_id, "u2")
    ledger.add_capacity("GA", 5)
    ledger.book("u1", "GA", 1)
    assert kept.remaining == 8


def test_the_read_tables_match_the_aggregates(ledger: BookingLedger):
    some_history(ledger)
    view = open_view(ledger)
    assert Projector(ledger, view).catch_up() == 11
    assert [(t.tier, t.price, t.capacity, t.sold, t.available) for t in view.list_tiers()] == [
        ("GA", Decimal("10.00"), 55, 1, 54),
        ("VIP", Decimal("100.00"), 10, 2, 8),
    ]
    assert [(b.tier, b.quantity, b.status) for b in view.bookings_of_user("u1")] == [
        ("GA", 1, "confirmed"),
        ("VIP", 2, "confirmed"),
    ]
    assert view.bookings_of_user("u2")[0].status == "cancelled"


def test_the_read_tables_position_is_where_the_librarys_own_tracking_recorder_reads_it(ledger: BookingLedger):
    """The read model moves its position with SQL of its own (``application/persistence/tracking.py``),
    in the table the library's ``ProjectionRunner`` would keep it in for a projection of its name."""
    some_history(ledger)
    Projector(ledger, open_view(ledger)).catch_up()
    with InfrastructureFactory.construct(Environment(LedgerProjection.name, ledger.env)) as library:
        assert library.tracking_recorder().max_tracking_id(ledger.name) == ledger.recorder.max_notification_id()


def test_a_rebuild_gives_tables_identical_to_the_live_ones(ledger: BookingLedger):
    view = open_view(ledger)
    follower = Projector(ledger, view)
    some_history(ledger)
    follower.catch_up()
    live = tables(view)
    assert rebuild(ledger) == 11
    assert tables(view) == live


def test_a_crash_part_way_loses_and_repeats_nothing(ledger: BookingLedger, monkeypatch):
    some_history(ledger)
    view = open_view(ledger)
    real_adapt_row, rows = view.adapt_row, []

    def crash_in_the_second_page(params):
        rows.append(params)
        if len(rows) == 6:  # mid-transaction: some of page two's rows are already written
            raise RuntimeError("power cut")
        return real_adapt_row(params)

    monkeypatch.setattr(view, "adapt_row", crash_in_the_second_page)
    with pytest.raises(RuntimeError):
        Projector(ledger, view, batch_size=4).catch_up()
    assert view.max_tracking_id(ledger.name) == 4
    assert {t.tier: t.sold for t in view.list_tiers()} == {"VIP": 2, "GA": 0}
    monkeypatch.undo()
    assert Projector(ledger, view, batch_size=4).catch_up() == 7
    assert {t.tier: t.sold for t in view.list_tiers()} == {"VIP": 2, "GA": 1}
    assert len(view.all_bookings()) == 3


def test_two_projectors_side_by_side_apply_each_event_once(store_env):
    with BookingLedger(env=store_env) as one, BookingLedger(env=store_env) as two:
        one.create_tier("VIP", Decimal("1.00"), 500)
        for n in range(60):
            one.book(f"u{n}", "VIP", 1)
        followers = [Projector(one, open_view(one), batch_size=7), Projector(two, open_view(two), batch_size=7)]
        threads = [threading.Thread(target=f.catch_up) for f in followers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        (tier,) = followers[0].view.list_tiers()
        assert tier.sold == 60 and len(followers[1].view.all_bookings()) == 60


@pytest.mark.slow
def test_the_projection_process_follows_new_events_and_resumes_after_a_restart(store_env):
    with BookingLedger(env=store_env) as ledger:
        view = open_view(ledger)
        ledger.create_tier("VIP", Decimal("1.00"), 100)
        process = run_projection_process(store_env)
        try:
            ledger.book("u1", "VIP", 3)
            wait_for(lambda: view.get_tier("VIP") and view.get_tier("VIP").sold == 3)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=20)
        assert process.returncode == 0, stderr
        ledger.book("u2", "VIP", 4)
        process = run_projection_process(store_env)
        try:
            wait_for(lambda: view.get_tier("VIP").sold == 7)
        finally:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=20)
        assert process.returncode == 0
        assert len(view.all_bookings()) == 2


def test_following_outlives_the_store_not_answering(ledger: BookingLedger):
    """``python -m projections`` keeps polling through a database restart (the fault
    tests restart a real PostgreSQL under it: tests/e2e/test_faults.py)."""
    ledger.create_tier("VIP", Decimal("1.00"), 10)
    follower, stop = Projector(ledger, open_view(ledger)), threading.Event()
    outage = iter([OperationalError("server closed the connection unexpectedly"), InterfaceError("connection closed")])

    def catch_up_after_the_outage() -> int:
        error = next(outage, None)
        if error is not None:
            raise error
        stop.set()
        return Projector.catch_up(follower)

    follower.catch_up = catch_up_after_the_outage
    follower.follow(stop, interval=0.01)
    assert follower.view.get_tier("VIP").capacity == 10


def test_a_page_that_fails_for_another_reason_than_a_lost_race_is_not_retried_silently(ledger, monkeypatch):
    """Only an ``IntegrityError`` that came with the position moving on is a lost race;
    any other (a bad row, a broken table) must surface, not loop for ever."""
    some_history(ledger)
    follower = Projector(ledger, open_view(ledger))

    def duplicate_row(*_):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(follower.view, "apply", duplicate_row)
    outcome: list[BaseException | None] = []
    catching_up = threading.Thread(target=lambda: outcome.append(raised(follower.catch_up)), daemon=True)
    catching_up.start()
    catching_up.join(timeout=10)
    assert outcome and isinstance(outcome[0], IntegrityError), "catch_up looped on an error that was no lost race"


def raised(call) -> BaseException | None:
    try:
        call()
    except BaseException as error:  # noqa: BLE001 - the test looks at what it was
        return error
    return None
