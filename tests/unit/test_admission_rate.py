"""The automatic rate's rule: back off on latency, grow only while buyers wait and book."""

from __future__ import annotations

import pytest

from application.waiting_room.admission_rate import (
    BUCKETS_MS,
    DECREASE,
    FAST_INCREASE,
    MIN_RATE,
    Measured,
    bucket_of,
    next_rate,
    p95_ms,
)

TARGET = 50.0


def period(
    p95_bucket: int,
    bookings: int = 200,
    rate: float = 100.0,
    waiting: bool = True,
    admitted: int = 200,
    max_rate: float = 1000.0,
) -> Measured:
    """A period whose bookings all fell in one bucket."""
    return Measured(rate, 100.0, max_rate, {p95_bucket: bookings}, admitted, waiting)


def test_durations_fall_in_the_bucket_of_their_upper_edge():
    assert [bucket_of(ms) for ms in (0, 5, 5.1, 50, 5000, 5001)] == [0, 0, 1, 5, 14, 15]


def test_the_p95_is_the_edge_of_the_bucket_holding_it():
    assert p95_ms({}) is None
    assert p95_ms({0: 94, 7: 6}) == BUCKETS_MS[7]
    assert p95_ms({0: 95, 7: 5}) == BUCKETS_MS[0]
    assert p95_ms({15: 1}) == float("inf")


def test_over_the_target_the_rate_backs_off():
    rate, reason = next_rate(period(bucket_of(75)), TARGET)
    assert rate == 100 * DECREASE and "decrease" in reason


def test_the_rate_never_backs_off_below_a_quarter_of_its_start_nor_one_a_second():
    assert next_rate(period(bucket_of(500), rate=30.0), TARGET)[0] == 25.0  # start 100
    assert next_rate(period(bucket_of(500), rate=20.0), TARGET)[0] == 20.0  # set lower by hand: stays
    low_start = Measured(1.2, 2.0, 1000.0, {bucket_of(500): 200}, 2, True)
    assert next_rate(low_start, TARGET)[0] == MIN_RATE


def test_far_under_the_target_it_grows_fast_and_near_it_gently():
    assert next_rate(period(bucket_of(20)), TARGET)[0] == 100 * FAST_INCREASE
    assert next_rate(period(bucket_of(40)), TARGET)[0] == pytest.approx(110.0)


def test_it_never_grows_beyond_the_ceiling():
    assert next_rate(period(bucket_of(5), rate=900), TARGET)[0] == 1000


@pytest.mark.parametrize(
    "measured, why",
    [
        (period(bucket_of(5), bookings=5), "too few"),
        (period(bucket_of(5), waiting=False), "nobody waiting"),
        (period(bucket_of(5), bookings=50, admitted=200), "bookings for"),
    ],
)
def test_it_holds_without_evidence_that_the_rate_is_what_holds_buyers_back(measured, why):
    rate, reason = next_rate(measured, TARGET)
    assert rate == measured.rate and why in reason


def test_each_threshold_belongs_to_the_gentler_side():
    """At exactly the target, half the target, the fewest samples and the demand share."""
    at_target = next_rate(period(bucket_of(TARGET)), TARGET)
    at_half = next_rate(period(bucket_of(20)), 40.0)
    fewest = next_rate(period(bucket_of(TARGET), bookings=10, admitted=10), TARGET)
    just_enough_demand = next_rate(period(bucket_of(TARGET), bookings=100, admitted=200), TARGET)
    assert [at_target[0], at_half[0], fewest[0], just_enough_demand[0]] == [110.0, 150.0, 110.0, 110.0]
    assert all(reason.endswith(": increase") for _, reason in (at_target, at_half, fewest, just_enough_demand))
