"""The on-sale benchmark's arithmetic: its fairness count, what a refusal says is left,
its crowd, and its percentiles."""

from __future__ import annotations

from scripts.bench.onsale_buyers import (
    Buyer,
    left_in,
    make_buyers,
    out_of_order,
    quantiles,
)


def joined(index: int, sent: float, answered: float, place: int) -> Buyer:
    return Buyer(index, sent, 1, join_sent=sent, join_answered=answered, place=place)


def test_pairs_count_only_when_one_was_answered_before_the_other_asked():
    buyers = [joined(0, 0.0, 0.1, 1), joined(1, 0.2, 0.3, 2), joined(2, 0.25, 0.4, 3)]
    assert out_of_order(buyers) == (0, 2)  # (0 before 1), (0 before 2); 1 and 2 overlapped


def test_a_later_arrival_served_first_is_out_of_order():
    buyers = [joined(0, 0.0, 0.1, 2), joined(1, 0.2, 0.3, 1), joined(2, 0.5, 0.6, 3)]
    assert out_of_order(buyers) == (1, 3)  # 1 asked after 0 was answered, yet has place 1


def test_buyers_without_a_place_after_the_opening_are_left_out():
    buyers = [joined(0, 0.0, 0.1, 1), Buyer(1, 0.2, 1, join_sent=0.2, join_answered=0.3)]
    assert out_of_order(buyers) == (0, 0)
    assert out_of_order([]) == (0, 0)


def test_a_refusal_says_what_is_left_in_either_servers_words():
    ours = {
        "error": {
            "code": "INSUFFICIENT_TICKETS",
            "message": "Tier X has 3 ticket(s) available, 4 requested.",
            "details": [{"path": "quantity", "message": "3 available"}],
        }
    }
    baseline = {"error": {"code": "INSUFFICIENT_TICKETS", "message": "only 0 left in 'X'", "details": []}}
    assert (left_in(ours), left_in(baseline), left_in({})) == (3, 0, 0)


def test_the_crowd_arrives_in_order_within_its_window_wanting_one_to_four():
    crowd = make_buyers(1000, 10.0, seed=1)
    times = [b.arrives for b in crowd]
    assert times == sorted(times) and 0 <= times[0] and times[-1] < 10
    assert {b.quantity for b in crowd} == {1, 2, 3, 4}
    assert [b.arrives for b in make_buyers(1000, 10.0, seed=1)] == times  # the same crowd for every mode


def test_percentiles_in_milliseconds():
    assert quantiles([i / 1000 for i in range(1, 101)]) == {
        "p50": 51.0,
        "p95": 96.0,
        "p99": 100.0,
        "max": 100.0,
        "n": 100,
    }
    assert quantiles([]) == {"n": 0}
