"""The waiting room's use cases over both queue stores, with the room log on SQLite and
PostgreSQL: passes, the states a place goes through, the automatic rate and the audit trail."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC

import pytest

from application.errors import (
    PlaceNotFoundError,
    QueuePassExpiredError,
    QueuePassRequiredError,
    WaitingRoomAlreadyOnError,
    WaitingRoomOffError,
)
from application.waiting_room.admission_rate import PERIOD_SECONDS, bucket_of
from application.waiting_room.log import WaitingRoomLog
from application.waiting_room.passes import Pass
from application.waiting_room.rooms import WaitingRoomService, from_epoch
from application.waiting_room.ticks import COUNT_EVERY_SECONDS
from tests.queue_stores import FakeClock, queue_kind, store_of_kind  # noqa: F401

START = 1_000_000.0  # a multiple of the periods, so ticks fall on known times


class SoldOut:
    def __init__(self) -> None:
        self.tiers: set[str] = set()

    def __call__(self, tiers: tuple[str, ...] | None) -> bool:
        return tiers is not None and set(tiers) <= self.tiers


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def sold_out() -> SoldOut:
    return SoldOut()


@pytest.fixture
def rooms(
    queue_kind: str, store_env: dict[str, str], clock: FakeClock, sold_out: SoldOut
) -> Iterator[WaitingRoomService]:
    with store_of_kind(queue_kind, clock) as store:
        rooms = WaitingRoomService(
            store, lambda: WaitingRoomLog(env=store_env), sold_out, target_p95_ms=50, terms_seconds=0, clock=clock
        )
        yield rooms
        rooms.close()


def turn_on(
    rooms: WaitingRoomService,
    rate: float = 2.0,
    opens_in: float = 0.0,
    auto: bool = False,
    tiers: list[str] | None = None,
    pass_seconds: int = 60,
):
    return rooms.turn_on(tiers or ["VIP"], from_epoch(rooms.clock() + opens_in), rate, auto, 1000.0, pass_seconds)


def admitted_pass(rooms: WaitingRoomService, clock: FakeClock, user: str) -> str:
    joined, _ = rooms.join(user)
    clock.advance(5)
    status = rooms.place(joined.ticket_id)
    assert status.state == "admitted"
    return status.queue_pass


def test_while_no_room_is_on_nothing_needs_a_pass_and_nobody_can_join(rooms: WaitingRoomService):
    assert rooms.status() is None and rooms.check_pass(None, "alice", "VIP") is False
    with pytest.raises(WaitingRoomOffError):
        rooms.join("alice")


def test_only_the_rooms_tiers_need_a_pass(rooms: WaitingRoomService):
    turn_on(rooms)
    assert rooms.check_pass(None, "alice", "GA") is False
    with pytest.raises(QueuePassRequiredError, match="join the queue"):
        rooms.check_pass(None, "alice", "VIP")


def test_a_valid_pass_lets_its_user_book_until_it_expires(rooms: WaitingRoomService, clock: FakeClock):
    turn_on(rooms, pass_seconds=60)
    token = admitted_pass(rooms, clock, "alice")
    assert rooms.check_pass(token, "alice", "VIP") is True
    clock.advance(59.9)
    assert rooms.check_pass(token, "alice", "VIP") is True
    clock.advance(0.1)
    with pytest.raises(QueuePassExpiredError):
        rooms.check_pass(token, "alice", "VIP")


def test_a_pass_is_refused_for_another_user_forged_or_from_an_earlier_room(rooms: WaitingRoomService, clock: FakeClock):
    turn_on(rooms)
    token = admitted_pass(rooms, clock, "alice")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for given, user, why in [
        (token, "bob", "another user"),
        (forged, "alice", "not valid"),
        ("garbage", "alice", "not valid"),
    ]:
        with pytest.raises(QueuePassRequiredError, match=why) as refused:
            rooms.check_pass(given, user, "VIP")
        assert type(refused.value) is QueuePassRequiredError
    rooms.turn_off()
    turn_on(rooms)
    with pytest.raises(QueuePassRequiredError, match="earlier sale"):
        rooms.check_pass(token, "alice", "VIP")
    other_room = rooms.signer.sign(Pass("not-the-room", "alice", clock() + 60))
    with pytest.raises(QueuePassRequiredError, match="earlier sale"):
        rooms.check_pass(other_room, "alice", "VIP")


def test_a_place_goes_from_the_pre_queue_to_waiting_to_admitted_to_expired(rooms: WaitingRoomService, clock: FakeClock):
    turn_on(rooms, rate=1.0, opens_in=10, pass_seconds=30)
    first, new = rooms.join("ann")
    second, _ = rooms.join("bob")
    assert new and (first.state, first.position) == ("waiting", None)
    assert "drawn at random" in first.message and first.estimated_wait >= 10 and first.poll_after >= 0.45
    clock.advance(10)  # the opening: the pre-queue's order is final
    places = sorted([rooms.place(first.ticket_id).position, rooms.place(second.ticket_id).position])
    assert places == [1, 2]
    late, _ = rooms.join("cat")
    assert (late.position, late.estimated_wait) == (3, 3.0)
    clock.advance(3)
    admitted = rooms.place(late.ticket_id)
    assert (admitted.state, admitted.pass_expires_at.timestamp(), admitted.poll_after) == (
        "admitted",
        clock() + 30,
        None,
    )
    assert rooms.join("cat")[0].queue_pass == admitted.queue_pass  # joining again: the same place
    clock.advance(30)
    assert rooms.place(late.ticket_id).state == "expired"
    again, new = rooms.join("cat")
    assert new and again.ticket_id != late.ticket_id and again.state == "waiting" and again.position == 1


def test_waiting_buyers_learn_when_the_sale_sold_out(rooms: WaitingRoomService, sold_out: SoldOut):
    turn_on(rooms, rate=0.0)
    joined, _ = rooms.join("ann")
    assert (joined.state, joined.estimated_wait) == ("waiting", None)
    sold_out.tiers.add("VIP")
    gone = rooms.place(joined.ticket_id)
    assert (gone.state, gone.poll_after, gone.queue_pass) == ("soldOut", None, None)


def test_a_closed_rooms_places_say_so_and_booking_needs_no_pass(rooms: WaitingRoomService):
    turn_on(rooms)
    joined, _ = rooms.join("ann")
    rooms.turn_off()
    assert rooms.place(joined.ticket_id).state == "closed"
    assert rooms.check_pass(None, "ann", "VIP") is False
    with pytest.raises(WaitingRoomOffError):
        rooms.turn_off()


def test_the_audit_trail_records_opening_rate_changes_counts_and_close(rooms: WaitingRoomService, clock: FakeClock):
    room = turn_on(rooms, rate=2.0)
    with pytest.raises(WaitingRoomAlreadyOnError):
        turn_on(rooms)
    rooms.change_rate(4.0, False)
    for user in ("ann", "bob", "cat"):
        rooms.join(user)
    clock.advance(COUNT_EVERY_SECONDS)  # a counting period
    rooms.join("dan")
    rooms.turn_off()
    trail = rooms.events(room.room_id)
    assert [e.event for e in trail] == ["Opened", "RateChanged", "AdmissionsCounted", "Closed"]
    assert trail[0].details["tiers"] == ["VIP"] and trail[1].details == {
        "rate": 4.0,
        "auto_rate": False,
        "reason": "set by an admin",
    }
    assert trail[2].details == {"joined": 3, "admitted": 3, "passes": 0}
    assert trail[3].details == {"joined": 4, "admitted": 3, "passes": 0}
    assert all(e.at.tzinfo == UTC for e in trail)


def test_the_automatic_rate_grows_while_bookings_are_fast_and_backs_off_when_slow(
    rooms: WaitingRoomService, clock: FakeClock
):
    room = turn_on(rooms, rate=10.0, auto=True)
    for n in range(100):
        rooms.join(f"u{n}")
    for _ in range(20):
        rooms.booked(0.004)  # 4 ms each, counted in this period
    clock.advance(PERIOD_SECONDS)
    rooms.join("next")  # the first request of the next period ticks
    assert rooms.status().rate == 15.0
    for _ in range(20):
        rooms.booked(0.4)
    clock.advance(PERIOD_SECONDS)
    rooms.join("later")
    assert rooms.status().rate == pytest.approx(10.5)
    reasons = [e.details["reason"] for e in rooms.events(room.room_id) if e.event == "RateChanged"]
    assert reasons[0].startswith("automatic: p95 5 ms") and "increase" in reasons[0]
    assert reasons[1].startswith("automatic: p95 500 ms") and "decrease" in reasons[1]


def test_a_close_that_failed_half_way_completes_when_retried(rooms: WaitingRoomService):
    room = turn_on(rooms)
    store_turn_off = rooms.store.turn_off
    rooms.store.turn_off = lambda room_id: (_ for _ in ()).throw(ConnectionError("store down"))
    with pytest.raises(ConnectionError):
        rooms.turn_off()
    assert rooms.status() is not None  # still on: its close is recorded, not applied
    rooms.store.turn_off = store_turn_off
    rooms.turn_off()
    assert rooms.status() is None
    assert [e.event for e in rooms.events(room.room_id)] == ["Opened", "Closed"]


def test_the_latency_buckets_count_admitted_bookings(rooms: WaitingRoomService, clock: FakeClock):
    room = turn_on(rooms)
    rooms.booked(0.012)
    rooms.booked(0.012)
    period = int(clock() // PERIOD_SECONDS)
    assert rooms.store.latencies(room.room_id, period) == {bucket_of(12): 2}


def test_the_status_gives_the_rooms_terms_and_its_counts(rooms: WaitingRoomService, clock: FakeClock):
    room = turn_on(rooms, rate=3.0, opens_in=10, tiers=["VIP", "GA"], pass_seconds=90)
    ann, _ = rooms.join("ann")
    rooms.join("bob")
    status = rooms.status()
    assert (status.room_id, status.tiers, status.opens_at, status.opened, status.joined) == (
        room.room_id,
        ("GA", "VIP"),
        from_epoch(START + 10),
        False,
        2,
    )
    assert (status.rate, status.auto_rate, status.max_rate, status.pass_seconds) == (3.0, False, 1000.0, 90)
    clock.advance(10)
    assert rooms.status().opened is True  # from the opening time on
    clock.advance(1)
    rooms.place(ann.ticket_id)  # ann collects her pass
    status = rooms.status()
    assert (status.joined, status.admitted, status.passes, status.waiting) == (2, 2, 1, 0)


def test_an_automatic_rate_set_by_an_admin_is_capped_at_the_maximum_a_fixed_one_is_not(rooms: WaitingRoomService):
    turn_on(rooms, rate=2.0)
    assert (rooms.change_rate(5000.0, True).rate, rooms.status().auto_rate) == (1000.0, True)
    assert (rooms.change_rate(5000.0, False).rate, rooms.status().auto_rate) == (5000.0, False)


def test_without_a_room_the_answers_say_to_book_directly(rooms: WaitingRoomService):
    for command in (lambda: rooms.join("ann"), lambda: rooms.change_rate(1.0, False), rooms.turn_off):
        with pytest.raises(WaitingRoomOffError, match=r"^No waiting room is on: book directly\.$"):
            command()


def test_each_refused_pass_tells_the_buyer_in_full_why_and_what_to_do(rooms: WaitingRoomService, clock: FakeClock):
    turn_on(rooms, pass_seconds=60)
    token = admitted_pass(rooms, clock, "alice")
    join = "join the queue (POST /api/queue)"
    refusals = [
        (
            None,
            "alice",
            f"A waiting room is on for this sale: {join} and book with the pass it gives you (Queue-Pass header).",
        ),
        ("garbage", "alice", f"This queue pass is not valid: {join}."),
        (token, "bob", f"This queue pass belongs to another user: {join}."),
        (
            rooms.signer.sign(Pass("not-the-room", "alice", clock() + 60)),
            "alice",
            f"This queue pass is for an earlier sale: {join}.",
        ),
    ]
    for given, user, message in refusals:
        with pytest.raises(QueuePassRequiredError) as refused:
            rooms.check_pass(given, user, "VIP")
        assert str(refused.value) == message
    expires_at = from_epoch(rooms.signer.read(token).expires_at)
    clock.advance(60)
    with pytest.raises(QueuePassExpiredError) as expired:
        rooms.check_pass(token, "alice", "VIP")
    assert str(expired.value) == (
        f"Your queue pass expired at {expires_at.isoformat(timespec='seconds')}: "
        "join the queue again (POST /api/queue)."
    )


def test_a_place_of_a_room_that_is_off_says_so_and_an_unknown_one_is_not_found(rooms: WaitingRoomService):
    room = turn_on(rooms)
    with pytest.raises(PlaceNotFoundError, match=f"^No queue ticket '{room.room_id}.unknown'.$"):
        rooms.place(f"{room.room_id}.unknown")
    joined, _ = rooms.join("ann")
    rooms.turn_off()
    closed = rooms.place(joined.ticket_id)
    assert (closed.ticket_id, closed.state, closed.message) == (
        joined.ticket_id,
        "closed",
        "The waiting room is off: book directly.",
    )


def test_a_room_for_every_tier_opens_now_unless_told_and_an_automatic_rate_starts_at_most_at_the_maximum(
    rooms: WaitingRoomService,
):
    room = rooms.turn_on(None, None, 5000.0, True, 1000.0, 60)
    assert (room.tiers, room.opens_at, room.rate, room.auto_rate) == (None, from_epoch(START), 1000.0, True)
    assert rooms.events(room.room_id)[0].details["auto_rate"] is True
    rooms.turn_off()
    assert rooms.turn_on(None, None, 5000.0, False, 1000.0, 60).rate == 5000.0


def test_an_admin_who_lost_the_race_to_turn_a_room_on_leaves_their_room_closed_in_the_log(
    rooms: WaitingRoomService, clock: FakeClock
):
    turn_on(rooms)
    with pytest.raises(WaitingRoomAlreadyOnError, match=r"^A waiting room is on already; close it first\.$"):
        turn_on(rooms)  # seen on: refused before anything is recorded
    late = WaitingRoomService(
        rooms.store, lambda: rooms.log, rooms.sold_out, target_p95_ms=50, terms_seconds=0, clock=clock
    )
    late.store = type(
        "StaleLook", (), {"current": lambda self: None, "turn_on": rooms.store.turn_on, "secret": rooms.store.secret}
    )()
    opened = []
    open_room = rooms.log.open
    rooms.log.open = lambda room: opened.append(room) or open_room(room)
    with pytest.raises(WaitingRoomAlreadyOnError, match=r"^A waiting room is on already; close it first\.$"):
        turn_on(late)
    (lost,) = opened
    trail = rooms.events(str(lost.id))
    assert [e.event for e in trail] == ["Opened", "Closed"] and trail[1].details == {
        "joined": 0,
        "admitted": 0,
        "passes": 0,
    }


def test_the_room_log_keeps_a_rooms_own_fields_in_a_table_of_its_own(
    rooms: WaitingRoomService, store_env: dict[str, str]
):
    """Beside the ledger's events, in the same database: the table's name is stored data."""
    room = turn_on(rooms, rate=2.0, pass_seconds=60)
    own_table = (
        "waiting_room_events" if store_env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite" else "waitingrooms_events"
    )
    assert rooms.log.recorder.events_table_name == own_table
    assert rooms.events(room.room_id)[0].details == {
        "tiers": ["VIP"],
        "opens_at": from_epoch(START),
        "rate": 2.0,
        "auto_rate": False,
        "pass_seconds": 60,
    }


def test_a_tick_that_fails_is_logged_and_the_buyers_request_goes_on(
    rooms: WaitingRoomService, clock: FakeClock, caplog
):
    turn_on(rooms)
    rooms.store.gate = lambda room_id: None  # the room turned off in the store between two steps
    clock.advance(PERIOD_SECONDS)
    with caplog.at_level(logging.WARNING, logger="application.waiting_room.ticks"):
        joined, new = rooms.join("ann")
    assert new and joined.state in ("waiting", "admitted")
    assert [r.getMessage() for r in caplog.records if r.name == "application.waiting_room.ticks"] == [
        "waiting room tick skipped: The waiting room has just been turned off."
    ]


def test_an_automatic_rate_holds_while_admitted_buyers_do_not_use_it_or_nobody_waits(
    rooms: WaitingRoomService, clock: FakeClock
):
    room = turn_on(rooms, rate=30.0, auto=True)
    for n in range(200):
        rooms.join(f"u{n}")
    for _ in range(20):  # fast, but 20 bookings for the 60 places admitted in a period
        rooms.booked(0.004)
    clock.advance(PERIOD_SECONDS)
    rooms.join("next")
    assert rooms.status().rate == 30.0
    clock.advance(60)  # everyone admitted: nobody waits
    rooms.status()
    for _ in range(40):
        rooms.booked(0.004)
    clock.advance(PERIOD_SECONDS)
    rooms.place(rooms.join("next")[0].ticket_id)
    assert rooms.status().rate == 30.0
    changes = [e.details for e in rooms.events(room.room_id) if e.event == "RateChanged"]
    assert changes == []


def test_a_rate_the_room_changed_itself_is_recorded_as_automatic(rooms: WaitingRoomService, clock: FakeClock):
    room = turn_on(rooms, rate=10.0, auto=True)
    for n in range(100):
        rooms.join(f"u{n}")
    for _ in range(20):
        rooms.booked(0.004)
    clock.advance(PERIOD_SECONDS)
    rooms.join("next")
    (change,) = [e.details for e in rooms.events(room.room_id) if e.event == "RateChanged"]
    assert (change["rate"], change["auto_rate"]) == (15.0, True) and change["reason"].startswith("automatic: ")
