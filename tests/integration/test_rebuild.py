"""Rebuilding the read tables beside the live ones and swapping them in."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from application import BookingLedger
from projections import Projector, open_view
from projections.read_model.rebuild import differences, rebuild
from tests.cli import ticketledger


def dump(view) -> tuple[list, list]:
    return view.list_tiers(), view.all_bookings()


@pytest.fixture
def live(ledger: BookingLedger) -> Projector:
    ledger.create_tier("VIP", Decimal("100.00"), 50)
    ledger.create_tier("GA", Decimal("10.00"), 50)
    receipts = [ledger.book(f"u{n}", "VIP" if n % 2 else "GA", 1 + n % 3) for n in range(20)]
    for n in range(0, 20, 4):
        ledger.cancel(receipts[n].booking_id, f"u{n}")
    follower = Projector(ledger, open_view(ledger))
    follower.catch_up()
    return follower


def test_two_rebuilds_give_identical_tables_equal_to_the_live_ones(ledger, live):
    before = dump(live.view)
    rebuild(ledger)
    first = dump(live.view)
    rebuild(ledger)
    assert first == dump(live.view) == before
    assert live.position == ledger.recorder.max_notification_id()


def test_the_live_projector_carries_on_after_the_swap(ledger, live):
    rebuild(ledger)
    ledger.book("late", "VIP", 2)
    assert live.catch_up() == 2
    assert live.view.bookings_of_user("late")[0].quantity == 2


def test_a_rebuild_stopped_half_way_leaves_the_live_tables_untouched(ledger, live):
    before, position = dump(live.view), live.position

    def crash(applied: int) -> None:  # as if killed after the first page
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rebuild(ledger, crash)
    assert (dump(live.view), live.position) == (before, position)
    rebuild(ledger)
    assert dump(live.view) == before


def test_readers_get_answers_all_through_a_rebuild(ledger, live):
    tiers = len(live.view.list_tiers())
    answers, errors, stop = [], [], threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                answers.append(len(live.view.list_tiers()))
            except Exception as error:  # noqa: BLE001 - any failure is the finding
                errors.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(3):
        rebuild(ledger)
    stop.set()
    reader.join()
    assert errors == [] and answers and set(answers) == {tiers}


def test_verify_finds_no_difference_then_names_a_tampered_row(ledger, live):
    assert differences(ledger) == []
    with live.view.datastore.transaction(commit=True) as cursor:
        cursor.execute(live.view.sql("UPDATE {availability} SET sold = 0 WHERE tier = 'GA'"))
    (found,) = differences(ledger)
    assert found == "availability GA: sold live 0, rebuilt 10; available live 50, rebuilt 40"
    assert live.view.get_tier("GA").sold == 0  # verify changes nothing


def test_the_script_verifies_and_rebuilds(store_env, ledger, live):
    def run(*args):
        return ticketledger("rebuild", *args, env=store_env)

    verified = run("--verify")
    assert verified.returncode == 0 and "equal the live ones" in verified.stdout, verified.stderr
    with live.view.datastore.transaction(commit=True) as cursor:
        cursor.execute(live.view.sql("DELETE FROM {bookings} WHERE user_id = 'u3'"))
    assert run("--verify").returncode == 1
    rebuilt = run()
    assert rebuilt.returncode == 0 and "swapped them in" in rebuilt.stdout
    assert run("--verify").returncode == 0
