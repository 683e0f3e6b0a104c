"""Payments of one hot paid tier at once, through two ledgers sharing a store (two processes):
each received in a batch with the tier's other requests (``application/booking/paying.py``),
every hold confirmed once, with exactly its money, whatever the deliveries' number, order and
lateness; the books and the tier's audit balanced after."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

from application import BookingLedger
from application.audit.money_audit import MoneyAudit
from application.booking.tiers import NewShow, NewTier
from application.payments.desk import PaymentDesk
from domain.bookings import BookingStatus
from domain.errors import InsufficientTicketsError
from domain.payments import Incoming, Match, PaymentTerms
from projections import Projector, open_view
from tests.integration.clock import Clock
from tests.integration.test_holds import audited

TERMS = PaymentTerms("EUR", seconds_to_pay=600)
PRICE = 1250  # minor units of Decimal("12.50")
TERMS_DURATION = timedelta(seconds=TERMS.seconds_to_pay)


def paid_ledger(env: dict[str, str], clock: Clock) -> BookingLedger:
    ledger = BookingLedger(env=env)
    ledger.clock = clock
    return ledger


def open_sale(ledger: BookingLedger, capacity: int) -> None:
    ledger.create_show(NewShow("hot", "Hot", [NewTier("HOT", Decimal("12.50"), capacity)], payment=TERMS))


def card(provider_id: str) -> Incoming:
    return Incoming(PRICE, "EUR", "card", provider_id)


def at_once(jobs: list, threads: int) -> list:
    start = threading.Barrier(threads)

    def run(job):
        start.wait()
        return job()

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, jobs))


def test_payments_delivered_up_to_three_times_at_once_confirm_each_hold_once_with_its_money(store_env):
    clock = Clock()
    with paid_ledger(store_env, clock) as one, paid_ledger(store_env, clock) as two:
        open_sale(one, 24)
        desks = [PaymentDesk(one), PaymentDesk(two)]

        def hold(n: int):
            def take():
                try:
                    return (one if n % 2 else two).hold(f"buyer-{n}", "HOT", 1)
                except InsufficientTicketsError:
                    return None

            return take

        holds = [receipt for receipt in at_once([hold(n) for n in range(30)], 30) if receipt is not None]
        assert len(holds) == 24 and one.get_tier("HOT").held == 24
        payments = {hold.booking_id: desks[0].details(hold.booking_id).payment_id for hold in holds}  # opened
        # Each hold's card payment delivered one to three times, to either process, and half
        # the holds paid twice over (a second charge: a duplicate, left for a person), all at once.
        jobs = []
        for n, hold in enumerate(holds):
            paying = payments[hold.booking_id]
            for delivery in range(1 + n % 3):
                desk = desks[(n + delivery) % 2]
                jobs.append(lambda desk=desk, paying=paying, n=n: desk.receive(paying, card(f"pi_{n}")))
            if n % 2:
                jobs.append(lambda paying=paying, n=n: desks[0].receive(paying, card(f"pi_{n}_again")))
        matches = at_once(jobs, len(jobs))
        counted = Counter(matches)  # which of a hold's two charges came first is the race's
        assert counted[Match.PAID] == 24 and counted[Match.DUPLICATE] >= 12
        assert set(counted) <= {Match.PAID, Match.APPLIED, Match.DUPLICATE}
        for hold in holds:
            paid = desks[1].details(hold.booking_id)
            assert (paid.booking_status, paid.received, paid.refund_requested) == (BookingStatus.CONFIRMED, PRICE, 0)
        tier = two.get_tier("HOT")
        assert (tier.sold, tier.held, tier.available) == (24, 0, 0)
        assert MoneyAudit(one).verify() == []
        audited(one, Projector(one, open_view(one)), "HOT")


def test_payments_racing_the_expiry_at_the_deadline_either_confirm_or_are_refunded_whole(store_env):
    clock, late = Clock(), Clock()
    late.now += TERMS_DURATION
    with paid_ledger(store_env, clock) as payer, paid_ledger(store_env, late) as expirer:
        open_sale(payer, 16)
        desk = PaymentDesk(payer)
        holds = [payer.hold(f"buyer-{n}", "HOT", 1) for n in range(16)]
        payments = [desk.details(hold.booking_id).payment_id for hold in holds]

        def expire(booking_id):
            def run():
                try:
                    return expirer.expire_hold(booking_id).status
                except Exception as lost:  # the payment confirmed it first
                    return type(lost).__name__

            return run

        jobs = [lambda paying=paying, n=n: desk.receive(paying, card(f"pi_{n}")) for n, paying in enumerate(payments)]
        jobs += [expire(hold.booking_id) for hold in holds]
        outcomes = at_once(jobs, len(jobs))
        matches, expiries = outcomes[:16], outcomes[16:]
        for hold, match, expired in zip(holds, matches, expiries, strict=True):
            paid = desk.details(hold.booking_id)
            if match == Match.PAID:
                assert (paid.booking_status, paid.received, paid.refund_requested) == ("confirmed", PRICE, 0)
                assert expired == "HoldNotActiveError"
            else:  # expired first: the money is taken and owed back whole, the seat stays on sale
                assert (match, expired) == (Match.LATE, "expired")
                assert (paid.booking_status, paid.received, paid.refund_requested) == ("expired", PRICE, PRICE)
        confirmed = matches.count(Match.PAID)
        tier = payer.get_tier("HOT")
        assert (tier.sold, tier.held, tier.available) == (confirmed, 0, 16 - confirmed)
        assert MoneyAudit(payer).verify() == []
        audited(payer, Projector(payer, open_view(payer)), "HOT")
