"""A fault's window is measured as a client sees it, not by a probe: its longest stretch with
no booking committed and a request failing, from the first failed answer to the booking
that ends it; and the share of prompt answers."""

from __future__ import annotations

from itertools import count

import pytest

from scripts.verify.history import Attempt, Fault, History
from scripts.verify.windows import windows

ids = count()


def attempt(sent: float, answered: float, status: int | None, op: str = "book") -> Attempt:
    n = next(ids)
    return Attempt(n, 0, f"r{n}", "http://x", op, {}, None, sent, answered, status)


def test_the_window_runs_from_the_first_failure_to_the_first_booking_committed_after_it():
    fault = Fault("host-lost", "node1", 100.0, 130.0)
    attempts = [
        attempt(99.0, 99.1, 201),
        attempt(100.5, 101.0, 503),  # the first failure, 1 s in
        attempt(100.2, 110.2, None),  # hung until the client gave up
        attempt(120.0, 120.5, 201, op="hold"),  # a hold is not a booking
        attempt(100.9, 121.5, 201),  # waited, then committed: writes were back
        attempt(121.0, 123.0, 201),
        attempt(124.0, 124.1, 201),
    ]
    (found,) = windows(History({"began": 90.0}, attempts, [fault]))
    assert found.first_failure == pytest.approx(1.0) and found.first_booking == pytest.approx(21.5)
    assert found.unavailable == pytest.approx(20.5)
    assert (found.prompt, found.requests) == (4, 6)  # the hung one and the one waiting 20 s were not prompt


def test_a_fault_no_client_noticed_costs_nothing_and_one_never_recovered_from_has_no_end():
    quiet, broken = Fault("etcd-lost", "etcd2", 10.0, 20.0), Fault("host-lost", "node2", 30.0, 40.0)
    attempts = [attempt(11.0, 11.1, 201), attempt(31.0, 31.5, 503), attempt(32.0, 32.5, 503)]
    first, second = windows(History({"began": 0.0}, attempts, [quiet, broken]))
    assert first.unavailable == 0.0 and first.first_failure is None
    assert second.first_failure == pytest.approx(1.5) and second.unavailable is None


def test_a_blip_before_the_outage_does_not_hide_it():
    fault = Fault("switchover", "node2", 0.0, 20.0)
    attempts = [
        attempt(0.1, 0.2, 503),  # a connection cut as the fault began
        attempt(0.2, 0.3, 201),
        attempt(4.0, 4.1, 201),
        attempt(4.2, 4.5, 503),  # the leader steps down
        attempt(5.0, 5.5, 503),
        attempt(8.0, 8.9, 201),
    ]
    (found,) = windows(History({"began": 0.0}, attempts, [fault]))
    assert (found.first_failure, found.first_booking) == (pytest.approx(4.5), pytest.approx(8.9))
