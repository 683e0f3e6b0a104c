"""The ledger's commands against a real store (SQLite file and PostgreSQL)."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from application import (
    BookingLedger,
    BookingNotFoundError,
    LedgerBusyError,
    TierAlreadyExistsError,
    TierNotFoundError,
)
from application.booking.group_commit import PendingBooking
from application.booking.turns import NoTurns
from domain.bookings import Booking
from domain.errors import (
    BookingAlreadyCancelledError,
    InsufficientTicketsError,
    SalesClosedError,
)
from domain.tiers import tier_id
from tests.integration.race import race


def test_booking_saves_the_sale_and_the_booking_together(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("100.00"), 5)
    receipt = ledger.book("u1", "VIP", 2)
    assert (receipt.quantity, receipt.remaining, receipt.status) == (2, 3, "confirmed")
    booking = ledger.get_booking(receipt.booking_id)
    assert (booking.user_id, booking.tier, booking.quantity) == ("u1", "VIP", 2)
    assert ledger.get_tier("VIP").sold == 2


def test_prices_come_back_from_the_store_as_exact_decimals(store_env):
    with BookingLedger(env=store_env) as writer:
        writer.create_tier("GA", Decimal("10.10"), 1)
    with BookingLedger(env=store_env) as reader:
        price = reader.get_tier("GA").price
    assert isinstance(price, Decimal) and price == Decimal("10.10")


def test_a_refused_booking_records_nothing(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("1.00"), 1)
    with pytest.raises(InsufficientTicketsError):
        ledger.book("u1", "VIP", 2)
    assert ledger.get_tier("VIP").version == 1
    assert ledger.recorder.max_notification_id() == 1


def test_cancelling_releases_the_tickets_once(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("1.00"), 3)
    receipt = ledger.book("u1", "VIP", 3)
    assert ledger.cancel(receipt.booking_id, "u1").status == "cancelled"
    with pytest.raises(BookingAlreadyCancelledError):
        ledger.cancel(receipt.booking_id, "u1")
    assert ledger.get_tier("VIP").available == 3


def test_a_cancellation_retried_with_its_key_returns_the_cancelled_booking(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("1.00"), 3)
    receipt = ledger.book("u1", "VIP", 2)
    first = ledger.cancel(receipt.booking_id, "u1", idempotency_key="c-1")
    assert ledger.cancel(receipt.booking_id, "u1", idempotency_key="c-1") == first
    with pytest.raises(BookingAlreadyCancelledError):
        ledger.cancel(receipt.booking_id, "u1", idempotency_key="c-2")
    tier = ledger.get_tier("VIP")
    assert (first.status, tier.available, tier.version) == ("cancelled", 3, 3)


def test_a_closed_tier_refuses_bookings_but_takes_cancellations(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("1.00"), 3)
    receipt = ledger.book("u1", "VIP", 2)
    closed = ledger.close_sales("VIP")
    assert (closed.on_sale, closed.sold, closed.version) == (False, 2, 3)
    with pytest.raises(SalesClosedError):
        ledger.book("u2", "VIP", 1)
    ledger.cancel(receipt.booking_id, "u1")
    assert ledger.get_tier("VIP").available == 3


def test_the_refusal_of_an_unknown_tier_names_it(ledger: BookingLedger):
    for command in (lambda: ledger.book("u1", "NOPE", 1), lambda: ledger.get_tier("NOPE")):
        with pytest.raises(TierNotFoundError, match=r"^No tier 'NOPE'\.$"):
            command()


def test_unknown_tiers_and_bookings_are_not_found(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("1.00"), 3)
    with pytest.raises(TierNotFoundError):
        ledger.book("u1", "NOPE", 1)
    with pytest.raises(BookingNotFoundError):
        ledger.get_booking(uuid4())
    with pytest.raises(BookingNotFoundError):  # a tier's id is not a booking's
        ledger.cancel(tier_id("VIP"), "u1")


def test_a_tier_code_can_be_created_only_once(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("1.00"), 3)
    with pytest.raises(TierAlreadyExistsError):
        ledger.create_tier("VIP", Decimal("2.00"), 9)
    assert ledger.ensure_tier("VIP", Decimal("2.00"), 9) is False
    assert ledger.get_tier("VIP").price == Decimal("1.00")


def test_a_new_tier_is_on_sale_on_its_terms_and_its_code_is_then_taken(ledger: BookingLedger):
    created = ledger.create_tier("VIP", Decimal("5.00"), 4, per_user_limit=2)
    assert created == ledger.get_tier("VIP")
    assert (
        created.code,
        created.price,
        created.capacity,
        created.sold,
        created.available,
        created.held,
        created.version,
        created.on_sale,
        created.per_user_limit,
    ) == ("VIP", Decimal("5.00"), 4, 0, 4, 0, 1, True, 2)
    with pytest.raises(TierAlreadyExistsError, match=r"^Tier 'VIP' exists already\.$"):
        ledger.create_tier("VIP", Decimal("5.00"), 4)


def test_a_process_that_has_not_cached_a_tier_loads_its_latest_snapshot_and_the_events_after_it(store_env):
    with BookingLedger(env=store_env) as ledger:
        ledger.create_tier("VIP", Decimal("1.00"), 0)
        tier = ledger.repository.get(tier_id("VIP"))
        for _ in range(520):
            tier.add_capacity(1)
        ledger.save(tier)  # versions 2 to 521: crosses 500, so a snapshot as saved, at 521
        tier.add_capacity(1)
        ledger.save(tier)  # version 522: no snapshot
    with BookingLedger(env=store_env) as cold:
        read = []
        get = cold.events.get
        cold.events.get = lambda *args, **kwargs: [read.append(e) or e for e in get(*args, **kwargs)]
        assert (cold.get_tier("VIP").capacity, cold.get_tier("VIP").version) == (521, 522)
    assert [e.originator_version for e in read] == [522]  # only the event after the snapshot


def test_a_process_that_loses_the_race_to_ensure_a_tier_says_it_did_not_create_it(ledger: BookingLedger, monkeypatch):
    ledger.create_tier("GA", Decimal("2.50"), 7)  # by the other process, just after this one looked
    monkeypatch.setattr(type(ledger.repository), "__contains__", lambda repository, aggregate_id: False)
    assert ledger.ensure_tier("GA", Decimal("9.00"), 1) is False
    assert ledger.get_tier("GA").price == Decimal("2.50")


def test_an_unknown_booking_is_named_in_the_refusal(ledger: BookingLedger):
    unknown = uuid4()
    with pytest.raises(BookingNotFoundError, match=f"^No booking '{unknown}'.$"):
        ledger.get_booking(unknown)


def test_ensuring_a_missing_tier_creates_it_on_its_terms_once(ledger: BookingLedger):
    assert ledger.ensure_tier("GA", Decimal("2.50"), 7) is True
    assert ledger.ensure_tier("GA", Decimal("9.00"), 1) is False
    tier = ledger.get_tier("GA")
    assert (tier.code, tier.price, tier.capacity, tier.version) == ("GA", Decimal("2.50"), 7, 1)


def competing_writes(ledger: BookingLedger, rival: BookingLedger, times: int) -> list[int]:
    """Make the rival book one ticket just before each of ``ledger``'s next ``times`` saves.
    The rival takes no turns (as a writer whose turn was lost with its connection): ``ledger``
    holds the tier's turn in this very thread, and a rival waiting for it would wait for itself."""
    real_save = ledger.save
    conflicts = []
    rival._batch_commit.turns = NoTurns()

    def save_after_rival(*objs):
        if len(conflicts) < times:
            conflicts.append(1)
            rival.book("rival", "VIP", 1)
        return real_save(*objs)

    ledger.save = save_after_rival
    return conflicts


def test_a_conflicting_booking_reloads_and_retries(store_env):
    with BookingLedger(env=store_env) as ledger, BookingLedger(env=store_env) as rival:
        ledger.create_tier("VIP", Decimal("1.00"), 10)
        conflicts = competing_writes(ledger, rival, times=2)
        receipt = ledger.book("u1", "VIP", 3)
        assert (len(conflicts), receipt.remaining) == (2, 5)
        assert rival.get_tier("VIP").sold == 5


def test_after_the_attempt_cap_the_booking_fails_and_records_nothing(store_env):
    env = {**store_env, "BOOKING_MAX_ATTEMPTS": "3"}
    with BookingLedger(env=env) as ledger, BookingLedger(env=store_env) as rival:
        ledger.create_tier("VIP", Decimal("1.00"), 10)
        competing_writes(ledger, rival, times=3)
        with pytest.raises(LedgerBusyError):
            ledger.book("u1", "VIP", 1)
        bookings = [e for e in rival.recorder.select_notifications(1, 100) if "Booking.Confirmed" in e.topic]
        assert len(bookings) == 3 and rival.get_tier("VIP").sold == 3


def test_the_full_history_of_a_tier_replays_in_order(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("1.00"), 2)
    receipt = ledger.book("u1", "VIP", 2)
    ledger.cancel(receipt.booking_id, "u1")
    ledger.add_capacity("VIP", 1)
    events = list(ledger.events.get(tier_id("VIP")))
    assert [type(e).__name__ for e in events] == ["Created", "TicketsBooked", "TicketsReleased", "CapacityAdded"]
    assert ledger.repository.get(tier_id("VIP"), version=2).sold == 2
    assert isinstance(ledger.repository.get(receipt.booking_id), Booking)


def test_a_refused_request_in_a_batch_does_not_fail_the_others(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("1.00"), 3)
    batch = [PendingBooking("a", "VIP", 2), PendingBooking("b", "VIP", 2), PendingBooking("c", "VIP", 1)]
    ledger._batch_commit(batch)
    a, b, c = (p.outcome for p in batch)
    assert (a.remaining, isinstance(b, InsufficientTicketsError), c.remaining) == (1, True, 0)
    assert ledger.get_tier("VIP").version == 3  # created, then two sales in one recording
    assert ledger.get_booking(batch[2].booking_id).user_id == "c"
    with pytest.raises(BookingNotFoundError):
        ledger.get_booking(batch[1].booking_id)


def test_a_batch_that_loses_a_race_is_decided_again(store_env):
    with BookingLedger(env=store_env) as ledger, BookingLedger(env=store_env) as rival:
        ledger.create_tier("VIP", Decimal("1.00"), 3)
        competing_writes(ledger, rival, times=1)
        batch = [PendingBooking("a", "VIP", 1), PendingBooking("b", "VIP", 2)]
        ledger._batch_commit(batch)
        assert batch[0].outcome.remaining == 1
        assert isinstance(batch[1].outcome, InsufficientTicketsError)


def test_one_recording_serves_several_tiers_and_an_unknown_tier_fails_alone(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("1.00"), 5)
    ledger.create_tier("GA", Decimal("1.00"), 5)
    batch = [PendingBooking("a", "VIP", 2), PendingBooking("b", "NOPE", 1), PendingBooking("c", "GA", 3)]
    ledger._batch_commit(batch)
    a, b, c = (p.outcome for p in batch)
    assert (a.remaining, isinstance(b, TierNotFoundError), c.remaining) == (3, True, 2)
    assert ledger.recorder.max_notification_id() == 2 + 4  # two tiers created, then one recording


def test_many_concurrent_bookings_share_few_recordings(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("1.00"), 1000)
    saves = []
    real_save = ledger.save
    ledger.save = lambda *objs: saves.append(len(objs)) or real_save(*objs)
    outcomes = race(ledger, "VIP", threads=60)
    assert outcomes == {"booked": 60}
    assert sum(n - 1 for n in saves) == 60 and len(saves) < 60
    assert ledger.get_tier("VIP").sold == 60


def test_a_tier_with_a_long_history_loads_from_its_latest_snapshot(store_env):
    with BookingLedger(env=store_env) as ledger:
        ledger.create_tier("VIP", Decimal("1.00"), 0)
        for _ in range(12):
            ledger.add_capacity("VIP", 100)
        tier = ledger.repository.get(tier_id("VIP"))
        for _ in range(1100):
            tier.add_capacity(1)
        ledger.save(tier)
        ledger.book("u1", "VIP", 1)  # version 1114
        snapshots = list(ledger.snapshots.get(tier_id("VIP"), desc=True, limit=1))
    assert snapshots and snapshots[0].originator_version == 1113  # the save crossing 1000, as saved
    with BookingLedger(env=store_env) as cold:  # empty cache: snapshot + 1 event
        assert (cold.get_tier("VIP").capacity, cold.get_tier("VIP").sold) == (2300, 1)


def test_a_process_with_a_stale_cache_never_refuses_tickets_another_released(store_env):
    with BookingLedger(env=store_env) as one, BookingLedger(env=store_env) as two:
        one.create_tier("VIP", Decimal("1.00"), 3)
        receipt = one.book("u1", "VIP", 3)  # `one` caches the tier as sold out
        two.cancel(receipt.booking_id, "u1")
        assert one.book("u2", "VIP", 3).remaining == 0
        with pytest.raises(BookingAlreadyCancelledError):  # `one` still caches it confirmed
            one.cancel(receipt.booking_id, "u1")


def test_streams_recorded_before_the_optional_fields_still_load(ledger: BookingLedger):
    """Created gained per_user_limit and TicketsReleased user_id after the first release."""
    ledger.create_tier("VIP", Decimal("1.00"), 5)
    receipt = ledger.book("u1", "VIP", 2)
    ledger.cancel(receipt.booking_id, "u1")
    table = getattr(ledger.recorder, "events_table_name", "stored_events")
    schema = getattr(ledger.recorder.datastore, "schema", None)
    qualified = f'"{schema}".{table}' if schema else table
    marker = "%s" if schema else "?"
    where = f"WHERE originator_version = {marker} AND topic = {marker}"
    with ledger.recorder.datastore.transaction(commit=True) as cursor:
        for version, event, field in ((1, "Created", "per_user_limit"), (3, "TicketsReleased", "user_id")):
            topic = f"domain.tiers:TicketTier.{event}"
            cursor.execute(f"SELECT state FROM {qualified} {where}", (version, topic))
            state = json.loads(bytes(cursor.fetchone()["state"]))
            del state[field]
            cursor.execute(
                f"UPDATE {qualified} SET state = {marker} {where}", (json.dumps(state).encode(), version, topic)
            )
    with BookingLedger(env=ledger.env) as fresh:
        tier = fresh.repository.get(tier_id("VIP"))
        assert (tier.version, tier.sold, tier.per_user_limit, tier.on_sale) == (3, 0, None, True)


def a_first_save_that_blocks(ledger: BookingLedger, then=None):
    """Make the ledger's first save wait until released, then fail with ``then`` (or save);
    returns (started, release, saves)."""
    real_save, started, release, saves = ledger.save, threading.Event(), threading.Event(), []

    def save(*objs):
        saves.append(len(objs))
        if len(saves) == 1:
            started.set()
            release.wait(5)
            if then is not None:
                raise then
        return real_save(*objs)

    ledger.save = save
    return started, release, saves


def queued(ledger: BookingLedger, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(ledger._group_commit._waiting) < count and time.monotonic() < deadline:
        time.sleep(0.005)


def test_while_the_store_is_down_the_requests_queued_behind_the_failed_batch_fail_with_it(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("1.00"), 10)
    started, release, saves = a_first_save_that_blocks(ledger, then=OperationalError("server closed the connection"))
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(ledger.book, "u0", "VIP", 1)
        started.wait(5)
        others = [pool.submit(ledger.book, f"u{n}", "VIP", 1) for n in range(1, 4)]
        queued(ledger, 3)
        release.set()
        outcomes = [future.exception(5) for future in [first, *others]]
    assert all(isinstance(outcome, OperationalError) for outcome in outcomes) and saves == [2]
    assert ledger.get_tier("VIP").sold == 0


def test_a_request_that_cannot_join_a_batch_within_the_wait_is_refused_as_busy(store_env):
    with BookingLedger(env={**store_env, "BOOKING_MAX_WAIT_MS": "200"}) as ledger:
        ledger.create_tier("VIP", Decimal("1.00"), 10)
        started, release, _ = a_first_save_that_blocks(ledger)
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(ledger.book, "u0", "VIP", 1)
            started.wait(5)
            began = time.monotonic()
            late = pool.submit(ledger.book, "u1", "VIP", 1).exception(5)
            waited = time.monotonic() - began
            release.set()
            assert first.result(5).remaining == 9
    assert isinstance(late, LedgerBusyError) and 0.15 < waited < 1.0
    assert str(late) == "Waited 0.2 s for a turn without being recorded; retry later."


def test_after_the_attempt_cap_the_refusal_says_how_many_attempts_were_made(store_env):
    with BookingLedger(env={**store_env, "BOOKING_MAX_ATTEMPTS": "2"}) as ledger:
        ledger.create_tier("VIP", Decimal("1.00"), 10)
        attempts = []
        ledger.save = lambda *objs: attempts.append(1) or (_ for _ in ()).throw(IntegrityError("conflict"))
        with pytest.raises(LedgerBusyError, match=r"^Gave up after 2 conflicting attempts; retry later\.$"):
            ledger.book("u1", "VIP", 1)
        assert len(attempts) == 2
