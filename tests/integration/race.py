"""A real race: many threads book one tier at the same moment.

Importable (not a test module) so that spawned processes can run it too.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from application import BookingLedger, LedgerBusyError
from domain.errors import InsufficientTicketsError


def race(ledger: BookingLedger, tier: str, threads: int, quantity: int = 1) -> Counter:
    """``threads`` bookings of ``quantity`` released together; count each outcome."""
    start = threading.Barrier(threads)

    def book(n: int) -> str:
        start.wait()
        try:
            ledger.book(f"user-{threading.get_ident()}-{n}", tier, quantity)
        except InsufficientTicketsError:
            return "insufficient"
        except LedgerBusyError:
            return "busy"
        return "booked"

    with ThreadPoolExecutor(threads) as pool:
        return Counter(pool.map(book, range(threads)))


def race_in_new_process(env: dict[str, str], tier: str, threads: int) -> Counter:
    with BookingLedger(env=env) as ledger:
        return race(ledger, tier, threads)
