"""A hot paid sale against direct booking on the same hot tier (issue 33's goal: ≥ 0.8×).

In process, on PostgreSQL, threads sharing one ledger (not through HTTP): ``book`` sells one
ticket of a free hot tier per request (the group commit's batches); ``paid`` holds one ticket
of a paid hot tier (the same batches), opens its payment and takes it at the box office, which
confirms the hold: a command of its own on the tier, outside the batches. Interleaved, a few
seconds each, twice; the books must balance after. Run: ``python -m scripts.bench.paid``.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import psycopg

from application import BookingLedger, LedgerBusyError
from application.audit.money_audit import MoneyAudit
from application.booking.tiers import NewShow, NewTier
from application.payments.desk import PaymentDesk
from domain.errors import InsufficientTicketsError
from domain.payments import Incoming, PaymentTerms

CAPACITY = 10_000_000


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
    }


def run(kind: str, ledger: BookingLedger, desk: PaymentDesk, threads: int, seconds: float, round_: int) -> float:
    """Sales completed per second by ``threads`` buyers for ``seconds``."""
    done, stop, counter = [0], time.monotonic() + seconds, threading.Lock()

    def buyer(n: int) -> None:
        sold = 0
        while time.monotonic() < stop:
            user = f"{kind}-{round_}-{n}-{sold}"  # its till receipt too: one per payment
            try:
                if kind == "book":
                    ledger.book(user, "HOT_FREE", 1)
                else:
                    hold = ledger.hold(user, "HOT_PAID", 1)
                    desk.open(hold.booking_id)
                    desk.pay_at_counter(hold.booking_id, Incoming(100, "EUR", "cash", f"till-{user}"))
                sold += 1
            except (LedgerBusyError, InsufficientTicketsError):
                pass
        with counter:
            done[0] += sold

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(buyer, range(threads)))
    return done[0] / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    schema = f"money_bench_{os.getpid()}"
    settings = env(schema)
    address = f"host={settings['POSTGRES_HOST']} port={settings['POSTGRES_PORT']} user={settings['POSTGRES_USER']}"
    with psycopg.connect(f"{address} dbname={settings['POSTGRES_DBNAME']}", autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            measure(settings, args.seconds, args.threads)
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def measure(settings: dict[str, str], seconds: float, threads: int) -> None:
    with BookingLedger(env=settings) as ledger:
        ledger.create_tier("HOT_FREE", Decimal("1.00"), CAPACITY)
        terms = PaymentTerms("EUR", 600)
        ledger.create_show(NewShow("hot-paid", "Hot", [NewTier("HOT_PAID", Decimal("1.00"), CAPACITY)], payment=terms))
        desk = PaymentDesk(ledger)
        rates: dict[str, list[float]] = {"book": [], "paid": []}
        for round_ in range(2):
            for kind in ("book", "paid"):
                rates[kind].append(run(kind, ledger, desk, threads, seconds, round_))
                print(f"{kind}: {rates[kind][-1]:.0f}/s (load {os.getloadavg()[0]:.1f})", flush=True)
        book, paid = max(rates["book"]), max(rates["paid"])
        print(f"best: book {book:.0f}/s, paid {paid:.0f}/s, ratio {paid / book:.2f}")
        problems = MoneyAudit(ledger).verify()
        print("books balance" if not problems else f"books do not balance: {problems[:3]}")


if __name__ == "__main__":
    main()
