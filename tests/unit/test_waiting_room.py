"""The waiting room aggregate: its terms are checked, and what it records for the audit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.errors import InvalidWaitingRoomError, WaitingRoomClosedError
from domain.waiting_room import (
    MAX_PASS_SECONDS,
    MAX_RATE,
    MIN_PASS_SECONDS,
    WaitingRoom,
)

OPENS = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def new_room(**terms) -> WaitingRoom:
    return WaitingRoom.open(
        **{"tiers": ["VIP", "GA"], "opens_at": OPENS, "rate": 50, "auto_rate": False, "pass_seconds": 300, **terms}
    )


def names(room: WaitingRoom) -> list[str]:
    return [type(e).__name__ for e in room.collect_events()]


def test_opening_records_the_terms():
    room = new_room()
    assert (room.tiers, room.opens_at, room.rate, room.is_open) == (["GA", "VIP"], OPENS, 50.0, True)
    assert names(room) == ["Opened"]


@pytest.mark.parametrize(
    "terms",
    [
        {"tiers": []},
        {"tiers": ["vip"]},
        {"tiers": [1]},
        {"rate": -1},
        {"rate": float("nan")},
        {"rate": True},
        {"rate": 2_000_000},
        {"pass_seconds": 0},
        {"pass_seconds": 1.5},
        {"opens_at": datetime(2026, 11, 24)},
    ],
)
def test_bad_terms_are_refused(terms):
    with pytest.raises(InvalidWaitingRoomError):
        new_room(**terms)


def test_every_tier_when_none_are_named():
    assert new_room(tiers=None).tiers is None


def test_a_rate_change_is_recorded_with_its_reason_unless_nothing_changes():
    room = new_room()
    room.collect_events()
    room.change_rate(50, False, "same")
    room.change_rate(80, True, "automatic: p95 12 ms")
    events = room.collect_events()
    assert [(type(e).__name__, e.rate, e.auto_rate, e.reason) for e in events] == [
        ("RateChanged", 80.0, True, "automatic: p95 12 ms")
    ]


def test_counts_only_grow_and_admitted_never_exceeds_joined():
    room = new_room()
    room.count_admissions(10, 4, 3)
    room.count_admissions(10, 4, 3)  # unchanged: nothing recorded
    for joined, admitted, passes in [(9, 4, 3), (10, 3, 3), (10, 4, 2), (10, 11, 3), (10, 4, 5)]:
        with pytest.raises(InvalidWaitingRoomError):
            room.count_admissions(joined, admitted, passes)
    assert names(room) == ["Opened", "AdmissionsCounted"]


def test_a_closed_room_records_its_final_counts_and_nothing_more():
    room = new_room()
    room.close(12, 12, 11)
    assert (room.is_open, room.joined, room.admitted, room.passes) == (False, 12, 12, 11)
    for change in (
        lambda: room.change_rate(1, False, "x"),
        lambda: room.count_admissions(12, 12, 11),
        lambda: room.close(12, 12, 11),
    ):
        with pytest.raises(WaitingRoomClosedError):
            change()
    assert names(room) == ["Opened", "Closed"]


@pytest.mark.parametrize(
    "terms", [{"rate": 0}, {"rate": MAX_RATE}, {"pass_seconds": MIN_PASS_SECONDS}, {"pass_seconds": MAX_PASS_SECONDS}]
)
def test_terms_at_their_bounds_are_accepted(terms):
    room = new_room(**terms)
    assert (room.rate, room.pass_seconds) == (float(terms.get("rate", 50)), terms.get("pass_seconds", 300))


def test_a_refusal_says_what_was_wrong():
    refusals = [
        ({"tiers": ["vip"]}, "Tiers must be a non-empty list of tier codes, or none for all, got ['vip']."),
        ({"rate": -1}, "Rate must be a number of buyers per second from 0 to 1,000,000, got -1."),
        ({"pass_seconds": MAX_PASS_SECONDS + 1}, "A pass lasts 1 to 86400 seconds, got 86401."),
        ({"opens_at": datetime(2026, 11, 24)}, "The opening time needs a time zone."),
    ]
    for terms, message in refusals:
        with pytest.raises(InvalidWaitingRoomError) as refused:
            new_room(**terms)
        assert str(refused.value) == message
    room = new_room()
    room.count_admissions(10, 4, 3)
    with pytest.raises(InvalidWaitingRoomError, match=r"^Counts must grow .*: had 10/4/3, got 9/4/3\.$"):
        room.count_admissions(9, 4, 3)
    room.close(10, 4, 3)
    with pytest.raises(WaitingRoomClosedError, match=f"^Waiting room {room.id} is closed.$"):
        room.close(10, 4, 3)
