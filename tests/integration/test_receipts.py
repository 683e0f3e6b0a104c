"""Every receipt is a recorded booking: two processes (two ledgers) on one store, sent
the same Idempotency-Key at once, must never hand out a receipt for a booking that
their own recording failed to store."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from application import BookingLedger, BookingReceipt, LedgerBusyError
from domain.bookings import Booking
from domain.errors import LedgerError


def test_the_same_key_on_two_hosts_at_once_never_yields_a_receipt_for_nothing(store_env):
    """Every third request carries a key and goes to both ledgers at once (a retry
    that reached another host while the first was in flight); plain bookings fill the
    batches around it. Every receipt must name a stored booking of its quantity, and
    the tier must have sold exactly the receipts' tickets."""
    with BookingLedger(env=store_env) as one, BookingLedger(env=store_env) as two:
        one.create_tier("GA", Decimal("1.00"), 100_000)
        start = threading.Barrier(32)

        def client(n: int) -> list[BookingReceipt]:
            start.wait()
            receipts = []
            for i in range(40):
                user = f"user-{n}-{i}"
                ledgers = [(one, two)[(n + i) % 2]]
                key = None
                if i % 3 == 0:
                    ledgers, key = [one, two], f"key-{n}-{i}"
                with ThreadPoolExecutor(len(ledgers)) as pool:
                    for future in [pool.submit(ledger.book, user, "GA", 1 + i % 2, key) for ledger in ledgers]:
                        try:
                            receipts.append(future.result())
                        except (LedgerBusyError, LedgerError):
                            pass
            return receipts

        with ThreadPoolExecutor(32) as pool:
            receipts = [r for rs in pool.map(client, range(32)) for r in rs]

        distinct = {r.booking_id: r for r in receipts}
        unrecorded = [r for r in distinct.values() if r.booking_id not in one.repository]
        assert unrecorded == [], f"{len(unrecorded)} of {len(distinct)} receipts name no stored booking"
        for receipt in distinct.values():
            booking = one.repository.get(receipt.booking_id)
            assert isinstance(booking, Booking) and booking.quantity == receipt.quantity
        assert one.get_tier("GA").sold == sum(r.quantity for r in distinct.values())
