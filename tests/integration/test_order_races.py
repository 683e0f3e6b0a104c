"""Orders across two hot tiers, racing bookings of the same tiers, against a real store:
no tier is ever oversold, and every order is all or nothing, as the store records it."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from eventsourcing.utils import get_topic

from application import BookingLedger, LedgerBusyError
from domain.bookings import Booking
from domain.errors import InsufficientTicketsError
from domain.orders import Order

VIP, GA = 12, 20


def race(ledger: BookingLedger, orders: int, bookings: int) -> Counter:
    start = threading.Barrier(orders + bookings)

    def order(n: int) -> str:
        start.wait()
        try:
            ledger.order(f"buyer-{n}", [("VIP", 1), ("GA", 2)])
        except (InsufficientTicketsError, LedgerBusyError) as refused:
            return type(refused).__name__
        return "ordered"

    def book(n: int) -> str:
        start.wait()
        try:
            ledger.book(f"single-{n}", "VIP" if n % 2 else "GA", 1)
        except (InsufficientTicketsError, LedgerBusyError) as refused:
            return type(refused).__name__
        return "booked"

    with ThreadPoolExecutor(orders + bookings) as pool:
        jobs = [pool.submit(order, n) for n in range(orders)] + [pool.submit(book, n) for n in range(bookings)]
        return Counter(job.result() for job in jobs)


def recorded(ledger: BookingLedger, kind: type) -> list:
    notifications = ledger.recorder.select_notifications(1, 100_000, topics=[get_topic(kind)])
    return [ledger.mapper.to_domain_event(n) for n in notifications]


@pytest.mark.parametrize("rounds", [3])
def test_orders_and_bookings_racing_never_oversell_and_orders_are_all_or_nothing(ledger, rounds):
    ledger.create_tier("VIP", Decimal("100.00"), VIP)
    ledger.create_tier("GA", Decimal("10.00"), GA)
    outcomes = Counter()
    for _ in range(rounds):
        outcomes += race(ledger, orders=16, bookings=16)
    vip, ga = ledger.get_tier("VIP"), ledger.get_tier("GA")
    assert vip.sold <= VIP and ga.sold <= GA
    placed = recorded(ledger, Order.Placed)
    confirmed = {e.originator_id: e for e in recorded(ledger, Booking.Confirmed)}
    assert len(placed) == outcomes["ordered"] and outcomes["ordered"] > 0
    for order in placed:  # every booking of every order, and nothing else of it, recorded
        booking_ids = Order.Placed.mutate(order, None).booking_ids()
        assert [(confirmed[b].tier, confirmed[b].quantity) for b in booking_ids] == [("VIP", 1), ("GA", 2)]
    singles = len(confirmed) - 2 * len(placed)
    assert singles == outcomes["booked"]
    assert vip.sold + ga.sold == 3 * len(placed) + singles  # the tiers' counts are exactly the bookings
    assert outcomes["InsufficientTicketsError"] > 0  # the tiers did run out: the race was real
