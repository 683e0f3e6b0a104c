"""A hot paid sale against direct booking on the same hot tier (issue 33's goal: ≥ 0.8×).

In process, on PostgreSQL, threads sharing one ledger (not through HTTP): ``book`` sells one
ticket of a free hot tier per request (the group commit's batches); ``paid`` holds one ticket
of a paid hot tier (the same batches; the hold opens its payment) and then delivers its card
payment as the Stripe webhook does once the signature is checked (``PaymentDesk.receive``, a
request in the same batches), which confirms the hold: each buyer thread waits for both, two
requests per sale. ``apart`` is the same sale with the webhooks delivered by threads of their
own (as many as the buyers), as Stripe delivers them: not on the buyer's connection. Each a few
seconds, twice at each number of threads; the tier must have sold exactly the sales
confirmed, and the books must balance after.

Then, under the paid sale, ``--unpaid`` holds are left unpaid and the clock is moved past
their deadline: how long until the hold-expiry process (a second ledger, as the projections
process is, with its read tables following) has put each seat back on sale, measured from
the deadline. Run: ``python -m scripts.bench.paid``.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from application import BookingLedger, LedgerBusyError
from application.audit.money_audit import MoneyAudit
from application.booking.tiers import NewShow, NewTier
from application.errors import OutcomeUnknownError, StoreTimeoutError
from application.payments.desk import PaymentDesk
from application.payments.references import creditor_reference
from domain.bookings import Booking
from domain.errors import InsufficientTicketsError
from domain.payments import Incoming, Match, PaymentTerms, payment_id
from projections import HoldExpiry, Projector, open_view

CAPACITY = 10_000_000
TERMS = PaymentTerms("EUR", 60)  # the shortest time to pay: the clock is moved past it


def env(schema: str) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": os.environ.get("POSTGRES_DBNAME", "postgres"),
        "POSTGRES_HOST": os.environ.get("POSTGRES_HOST", "127.0.0.1"),
        "POSTGRES_PORT": os.environ.get("POSTGRES_PORT", "5432"),
        "POSTGRES_USER": os.environ.get("POSTGRES_USER", "postgres"),
        "POSTGRES_PASSWORD": os.environ.get("POSTGRES_PASSWORD", ""),
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": "20",
        # As the tests' (tests/conftest.py): on the loaded shared machine a batch can wait a
        # second for the CPU, and a 503 there is the machine, not the ledger.
        "POSTGRES_WRITE_TIMEOUT_MS": "5000",
    }


class Clock:
    """Real time, moved on by ``skip`` (the unpaid holds' deadline comes at once)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


class Sale:
    """The two hot tiers and what sells them."""

    def __init__(self, ledger: BookingLedger) -> None:
        self.ledger = ledger
        self.desk = PaymentDesk(ledger)
        self.confirmed = 0
        self.unknown = 0  # sales whose recording was not confirmed in time
        self._counter = threading.Lock()

    def book(self, user: str) -> None:
        self.ledger.book(user, "HOT_FREE", 1)

    def hold(self, user: str) -> UUID:
        """The payment of a new hold: what the intent's metadata names."""
        return payment_id(creditor_reference(self.ledger.hold(user, "HOT_PAID", 1).booking_id))

    def webhook(self, paying: UUID, user: str) -> None:
        if self.desk.receive(paying, Incoming(100, "EUR", "card", f"pi_{user}")) == Match.PAID:
            with self._counter:
                self.confirmed += 1

    def pay(self, user: str) -> None:
        self.webhook(self.hold(user), user)

    def apart(self, threads: int, seconds: float, name: str) -> float:
        """Payments confirmed per second with ``threads`` buyers holding and as many
        webhook threads paying, for ``seconds``."""
        paying: queue.Queue[tuple[UUID, str] | None] = queue.Queue(maxsize=threads)
        before = self.confirmed

        def buy(user: str) -> None:
            paying.put((self.hold(user), user))

        def deliver() -> None:
            while (delivery := paying.get()) is not None:
                self.attempt(self.webhook, *delivery)

        started = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            delivering = [pool.submit(deliver) for _ in range(threads)]
            self.run(buy, threads, seconds, name)
            for _ in delivering:
                paying.put(None)
        return (self.confirmed - before) / (time.monotonic() - started)

    def attempt(self, sell: Callable[..., None], *args: Any) -> bool:
        """Whether ``sell`` went through; refusals and store timeouts are counted as not."""
        try:
            sell(*args)
        except (LedgerBusyError, InsufficientTicketsError, StoreTimeoutError):
            return False
        except OutcomeUnknownError:  # perhaps recorded: the tier may have sold one more
            with self._counter:
                self.unknown += 1
            return False
        return True

    def run(self, sell: Callable[[str], None], threads: int, seconds: float, name: str) -> float:
        """Sales completed per second by ``threads`` buyers for ``seconds``."""
        done, stop, counter = [0], time.monotonic() + seconds, threading.Lock()

        def buyer(n: int) -> None:
            sold = 0
            while time.monotonic() < stop:
                if self.attempt(sell, f"{name}-{n}-{sold}"):
                    sold += 1
            with counter:
                done[0] += sold

        started = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(buyer, range(threads)))
        return done[0] / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--threads", default="1,4,16", help="comma-separated numbers of threads")
    parser.add_argument("--unpaid", type=int, default=200, help="holds left unpaid for the expiry measurement")
    args = parser.parse_args()
    schema = f"money_bench_{os.getpid()}"
    settings = env(schema)
    address = f"host={settings['POSTGRES_HOST']} port={settings['POSTGRES_PORT']} user={settings['POSTGRES_USER']}"
    with psycopg.connect(f"{address} dbname={settings['POSTGRES_DBNAME']}", autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            measure(settings, args.seconds, [int(n) for n in args.threads.split(",")], args.unpaid)
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def measure(settings: dict[str, str], seconds: float, thread_counts: list[int], unpaid: int) -> None:
    clock = Clock()
    with BookingLedger(env=settings) as ledger:
        ledger.clock = clock
        ledger.create_tier("HOT_FREE", Decimal("1.00"), CAPACITY)
        ledger.create_show(NewShow("hot-paid", "Hot", [NewTier("HOT_PAID", Decimal("1.00"), CAPACITY)], payment=TERMS))
        sale = Sale(ledger)
        print("threads  book/s  paid/s  ratio  apart/s  ratio  load", flush=True)
        for threads in thread_counts:
            rates: dict[str, list[float]] = {"book": [], "paid": [], "apart": []}
            for round_ in range(2):
                rates["book"].append(sale.run(sale.book, threads, seconds, f"book-{threads}-{round_}"))
                rates["paid"].append(sale.run(sale.pay, threads, seconds, f"paid-{threads}-{round_}"))
                rates["apart"].append(sale.apart(threads, seconds, f"apart-{threads}-{round_}"))
            book, paid, apart = (max(rates[kind]) for kind in ("book", "paid", "apart"))
            print(
                f"{threads:7d} {book:7.0f} {paid:7.0f} {paid / book:6.2f} {apart:8.0f} {apart / book:6.2f}  "
                f"{os.getloadavg()[0]:.1f}",
                flush=True,
            )
        if unpaid:
            with expiring(settings, clock):
                lags = sorted(expiry_lags(sale, clock, max(thread_counts), seconds, unpaid))
            print(
                f"unpaid holds back on sale after their deadline: {len(lags)}/{unpaid}"
                + (f", median {statistics.median(lags):.2f} s, max {lags[-1]:.2f} s" if lags else "")
                + f" (load {os.getloadavg()[0]:.1f})"
            )
        sold = ledger.get_tier("HOT_PAID").sold
        verdict = "exact" if sale.confirmed <= sold <= sale.confirmed + sale.unknown else "WRONG"
        print(f"paid tier sold {sold}, payments confirmed {sale.confirmed} (+{sale.unknown} unknown): {verdict}")
        problems = MoneyAudit(ledger).verify()
        print("books balance" if not problems else f"books do not balance: {problems[:3]}")


@contextmanager
def expiring(settings: dict[str, str], clock: Clock) -> Iterator[None]:
    """The projections process's work, in threads over a ledger of its own: the read tables
    followed (every 50 ms, its default) and the holds expired as they fall due."""
    stop = threading.Event()
    with BookingLedger(env=settings) as ledger:
        ledger.clock = clock
        projector = Projector(ledger, open_view(ledger))
        projector.catch_up()  # the sale so far, before any unpaid hold is placed
        threads = [projector.start(stop, 0.05), HoldExpiry(ledger, projector.view).start(stop)]
        try:
            yield
        finally:
            stop.set()
            for thread in threads:
                thread.join(10)


def expiry_lags(sale: Sale, clock: Clock, threads: int, seconds: float, unpaid: int) -> list[float]:
    """Seconds from each unpaid hold's deadline to its seats' return, under the paid sale."""
    holds = [sale.ledger.hold(f"unpaid-{n}", "HOT_PAID", 1) for n in range(unpaid)]
    last_due = max(hold.expires_at for hold in holds if hold.expires_at)

    def skip_to_the_deadline() -> None:
        time.sleep(seconds / 5)
        # Every unpaid hold due in a second from now: the expiry process sees it coming, as
        # it would a deadline it had not skipped to (it sleeps until the next hold is due).
        clock.offset += last_due - clock() - timedelta(seconds=1)

    skipping = threading.Thread(target=skip_to_the_deadline)
    skipping.start()
    sale.run(sale.pay, threads, seconds, "expiry")
    skipping.join()
    time.sleep(2)  # the last few, if the load held them up
    lags = []
    for hold in holds:
        if hold.expires_at is None:
            continue
        ended = [e for e in sale.ledger.events.get(hold.booking_id) if isinstance(e, Booking.HoldReleased)]
        if ended:
            lags.append((ended[0].timestamp - (hold.expires_at - clock.offset)).total_seconds())
    return lags


if __name__ == "__main__":
    main()
