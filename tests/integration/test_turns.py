"""Processes take turns on a hot tier (PostgreSQL): none decides on a version another
is about to record, so none loses a race to another."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from application import BookingLedger
from application.observer import LedgerObserver
from tests.integration.race import race


class Conflicts(LedgerObserver):
    def __init__(self) -> None:
        self.count = 0

    def conflict(self) -> None:
        self.count += 1


@pytest.mark.postgres
def test_two_processes_booking_one_tier_never_lose_a_race_to_each_other(postgres_env):
    with BookingLedger(env=postgres_env) as one, BookingLedger(env=postgres_env) as two:
        one.create_tier("VIP", Decimal("1.00"), 10_000)
        one.observer, two.observer = Conflicts(), Conflicts()
        with ThreadPoolExecutor(2) as both:
            for _ in range(5):
                outcomes = list(both.map(lambda ledger: race(ledger, "VIP", 16), (one, two)))
                assert outcomes == [{"booked": 16}] * 2
        assert (one.observer.count, two.observer.count) == (0, 0)
        assert one.get_tier("VIP").sold == 160
