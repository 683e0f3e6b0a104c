"""What a buyer is told of their place in the queue (the API's queue ticket), from it and the gate."""

from __future__ import annotations

import pytest

from application.waiting_room.places import (
    MAX_POLL_SECONDS,
    MIN_POLL_SECONDS,
    describe,
    from_epoch,
    poll_after,
)
from application.waiting_room.store import Gate, Place, RoomTerms

TERMS = RoomTerms("room", ("VIP",), 1000.0, 60, 10.0, 10.0)


def place(at: int, now: float, frontier: float, admitted_at: float | None = None, rate: float = 10.0) -> Place:
    return Place("room.t", "ann", at, False, admitted_at, Gate(now, rate, False, frontier, 500, 0))


def sign(admission) -> str:
    return f"signed:{admission.user_id}:{admission.expires_at}"


def test_a_waiting_place_has_its_position_and_wait_at_the_rate():
    status = describe(TERMS, place(105, 1010.0, 100.0), "ticket", False, sign)
    assert (status.state, status.position, status.estimated_wait) == ("waiting", 5, 0.5)
    assert MIN_POLL_SECONDS * 0.9 <= status.poll_after <= MIN_POLL_SECONDS * 1.1 and status.queue_pass is None


def test_before_the_opening_there_is_no_position_and_the_wait_includes_the_opening():
    status = describe(TERMS, place(3, 990.0, 0.0), "ticket", False, sign)
    assert (status.position, status.estimated_wait) == (None, 10.3)
    assert "drawn at random" in status.message


def test_an_admitted_place_carries_its_pass_until_it_expires():
    status = describe(TERMS, place(5, 1020.0, 100.0, admitted_at=1015.0), "ticket", False, sign)
    assert (status.state, status.queue_pass, status.poll_after) == ("admitted", "signed:ann:1075.0", None)
    lapsed = describe(TERMS, place(5, 1075.0, 100.0, admitted_at=1015.0), "ticket", False, sign)
    assert (lapsed.state, lapsed.queue_pass) == ("expired", None)


def test_sold_out_comes_before_anything_else():
    assert describe(TERMS, place(5, 1020.0, 100.0, admitted_at=1015.0), "ticket", True, sign).state == "soldOut"


def test_a_paused_room_has_no_estimate_and_asks_for_the_longest_interval():
    status = describe(TERMS, place(105, 1010.0, 100.0, rate=0.0), "ticket", False, sign)
    assert status.estimated_wait is None and MAX_POLL_SECONDS * 0.9 <= status.poll_after <= MAX_POLL_SECONDS * 1.1


@pytest.mark.parametrize("wait, low, high", [(0.1, 0.45, 0.55), (8.0, 3.6, 4.4), (1000.0, 18.0, 22.0)])
def test_buyers_look_again_after_half_their_wait_within_bounds(wait, low, high):
    assert all(low <= poll_after(wait) <= high for _ in range(50))


def test_each_state_tells_the_buyer_in_words_what_to_do():
    sold_out = describe(TERMS, place(5, 1020.0, 100.0), "ticket", True, sign)
    admitted = describe(TERMS, place(5, 1020.2, 100.0, admitted_at=1015.0), "ticket", False, sign)
    lapsed = describe(TERMS, place(5, 1075.0, 100.0, admitted_at=1015.0), "ticket", False, sign)
    waiting = describe(TERMS, place(105, 1010.0, 100.0), "ticket", False, sign)
    early = describe(TERMS, place(3, 990.0, 0.0), "ticket", False, sign)
    assert [status.message for status in (sold_out, admitted, lapsed, waiting, early)] == [
        "Sold out while you waited: nothing is left to book.",
        "Your turn: book within 55 s, with this pass.",
        "Your pass has expired: join again for a new place at the back.",
        "You are number 5 in the queue.",
        "The sale opens at 1970-01-01T00:16:40+00:00. Everyone who joins before then gets a place drawn at random "
        "at the opening: arriving early gives no edge.",
    ]
    assert (admitted.position, admitted.estimated_wait, admitted.pass_expires_at) == (0, 0.0, from_epoch(1075.0))
    assert lapsed.pass_expires_at == from_epoch(1075.0)


@pytest.mark.parametrize(
    "at, frontier, rate, wait", [(100, 100.0, 10.0, 0.0), (100, 100.5, 10.0, 0.0), (105, 100.0, 3.0, 1.7)]
)
def test_the_wait_is_the_places_still_ahead_at_the_rate_in_tenths_of_a_second(at, frontier, rate, wait):
    assert describe(TERMS, place(at, 1010.0, frontier, rate=rate), "ticket", False, sign).estimated_wait == wait


def test_buyers_who_joined_together_are_spread_both_ways_in_hundredths_of_a_second():
    polls = [poll_after(8.0) for _ in range(200)]
    assert min(polls) < 4.0 < max(polls) and all(round(poll, 2) == poll for poll in polls)
