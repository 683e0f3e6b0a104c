"""Orders from outside, through real servers (on PostgreSQL two on one store): careless
clients send each order twice, to either server, under one Idempotency-Key, while others
book the same two hot tiers one at a time. Afterwards the store itself is read: no tier
oversold, every order answered 201 recorded whole and once, nothing of any refused one."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
from eventsourcing.utils import get_topic

from application import BookingLedger
from domain.bookings import Booking
from domain.orders import Order
from scripts.harness.processes import call, gunicorn

ITEMS = [{"tier": "VIP", "quantity": 2}, {"tier": "GA", "quantity": 3}]


@pytest.mark.slow
def test_orders_sent_twice_to_two_servers_are_recorded_whole_and_once(store_env, tmp_path):
    env = {
        **store_env,
        "PROJECT_IN_PROCESS": "yes",
        "DEMO_TIERS": "VIP:100.00:30,GA:10.00:40",
        "BOOKING_RATE_LIMIT": "",
        "ADMIN_AUTH_RATE_LIMIT": "",
    }
    servers = 2 if store_env["PERSISTENCE_MODULE"] == "eventsourcing.postgres" else 1
    with ExitStack() as stack:
        logs = [stack.enter_context(open(tmp_path / f"{n}.log", "w")) for n in range(servers)]
        bases = [stack.enter_context(gunicorn(env, log))[0] for log in logs]

        def order(n: int):
            body, key = {"userId": f"buyer-{n}", "items": ITEMS}, {"Idempotency-Key": f"order-{n}"}
            return n, [call(f"{bases[(n + k) % servers]}/api/orders", body, key) for k in range(2)]

        def book(n: int):
            return call(
                f"{bases[n % servers]}/api/tickets/book", {"userId": f"single-{n}", "tier": "VIP", "quantity": 1}
            )

        with ThreadPoolExecutor(24) as pool:
            orders = list(pool.map(order, range(24)))
            singles = list(pool.map(book, range(12)))

    statuses = Counter(reply.status for _, replies in orders for reply in replies)
    assert set(statuses) <= {201, 422}, statuses
    placed = {}
    for _, (first, again) in orders:
        assert first.status == again.status  # the retry gets the same answer
        if first.status == 201:
            assert again.body["orderId"] == first.body["orderId"]
            assert [(i["tier"], i["bookedQuantity"]) for i in first.body["items"]] == [("VIP", 2), ("GA", 3)]
            placed[first.body["orderId"]] = [i["bookingId"] for i in first.body["items"]]
        else:
            assert first.body["error"]["code"] == "INSUFFICIENT_TICKETS"
    booked = [reply.body["bookingId"] for reply in singles if reply.status == 201]
    assert placed and 0 < len(placed) < 24  # some orders went through, the tiers ran out for others

    with BookingLedger(env=store_env) as ledger:

        def events(kind: type) -> list:
            found = ledger.recorder.select_notifications(1, 100_000, topics=[get_topic(kind)])
            return [ledger.mapper.to_domain_event(n) for n in found]

        orders_stored = {str(e.originator_id) for e in events(Order.Placed)}
        bookings_stored = {str(e.originator_id): (e.tier, e.quantity) for e in events(Booking.Confirmed)}
        vip, ga = ledger.get_tier("VIP"), ledger.get_tier("GA")
    assert orders_stored == set(placed)
    expected = {b: item for ids in placed.values() for b, item in zip(ids, [("VIP", 2), ("GA", 3)], strict=True)}
    expected |= {b: ("VIP", 1) for b in booked}
    assert bookings_stored == expected  # nothing of a refused order, nothing twice
    assert (vip.sold, ga.sold) == (2 * len(placed) + len(booked), 3 * len(placed))
    assert vip.sold <= 30 and ga.sold <= 40
