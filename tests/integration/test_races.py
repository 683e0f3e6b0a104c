"""Overselling is impossible: real threads and processes race on one tier."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from decimal import Decimal

import pytest

from application import BookingLedger
from projections import Projector, open_view
from tests.integration.race import race, race_in_new_process

CAPACITY = 20


def assert_sold_out_exactly(env: dict[str, str], outcomes: Counter, attempts: int) -> None:
    assert outcomes == Counter(booked=CAPACITY, insufficient=attempts - CAPACITY)
    with BookingLedger(env=env) as ledger:
        assert ledger.get_tier("VIP").sold == CAPACITY
        view = open_view(ledger)
        Projector(ledger, view).catch_up()
        confirmed = [b for b in view.all_bookings() if b.status == "confirmed"]
        assert sum(b.quantity for b in confirmed) == CAPACITY == len(confirmed)
        (tier,) = view.list_tiers()
        assert (tier.sold, tier.available) == (CAPACITY, 0)


def test_fifty_threads_cannot_oversell_a_tier(store_env):
    with BookingLedger(env=store_env) as ledger:
        ledger.create_tier("VIP", Decimal("100.00"), CAPACITY)
        outcomes = race(ledger, "VIP", threads=50)
    assert_sold_out_exactly(store_env, outcomes, attempts=50)


@pytest.mark.postgres
@pytest.mark.slow
def test_four_processes_of_sixteen_threads_cannot_oversell_a_tier(postgres_env):
    with BookingLedger(env=postgres_env) as ledger:
        ledger.create_tier("VIP", Decimal("100.00"), CAPACITY)
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.starmap(race_in_new_process, [(postgres_env, "VIP", 16)] * 4)
    assert_sold_out_exactly(postgres_env, sum(results, Counter()), attempts=64)
