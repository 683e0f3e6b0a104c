"""The waiting list through the ledger, the read tables and the audit, on both stores: who is
offered what and when, lapses driven by the hold-expiry process, and a real race of public
bookings, cancellations and offers on a tiny tier (PostgreSQL, threads)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest

from application import BookingLedger, IdempotencyKeyReusedError
from application.audit.tier_audit import TierAudit
from application.booking.tiers import NewShow, NewTier
from application.booking.waiting_list import WaitingList
from application.payments.desk import PaymentDesk
from domain.bookings import BookingStatus
from domain.errors import (
    AlreadyWaitingError,
    InsufficientTicketsError,
    NotWaitingError,
    TierNotSoldOutError,
)
from domain.payments import Incoming, PaymentTerms
from domain.waiting_list import DEFAULT_OFFER_SECONDS
from projections import HoldExpiry, Projector, open_view
from tests.integration.clock import START, Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(store_env, clock):
    with BookingLedger(env=store_env) as ledger:
        ledger.clock = clock
        yield ledger


def sold_out(ledger: BookingLedger, capacity: int = 2) -> list:
    ledger.create_tier("GA", Decimal("10.00"), capacity)
    return [ledger.book(f"b{n}", "GA", 1).booking_id for n in range(capacity)]


def audited(ledger: BookingLedger, follower: Projector, tier: str = "GA") -> None:
    follower.catch_up()
    assert TierAudit(ledger).verify(tier, follower.view)[1] == []


def test_a_cancelled_ticket_goes_to_the_first_in_line_who_accepts_it(ledger):
    bookings = sold_out(ledger)
    waiting_list = WaitingList(ledger)
    follower = Projector(ledger, open_view(ledger))
    ann = waiting_list.join("ann", "GA", 1)
    assert (ann.status, ann.place.position, ann.waiting) == ("waiting", 1, 1)
    assert waiting_list.join("bob", "GA", 1).place.position == 2

    ledger.cancel(bookings[0], "b0")
    with pytest.raises(InsufficientTicketsError):
        ledger.book("public", "GA", 1)
    offered = waiting_list.place("ann", "GA")
    assert offered.status == "offered"
    assert offered.place.offer_expires_at == START + timedelta(seconds=DEFAULT_OFFER_SECONDS)
    assert waiting_list.place("bob", "GA").place.position == 1
    hold = ledger.get_booking(offered.place.offer)
    assert (hold.user_id, hold.status, hold.quantity) == ("ann", BookingStatus.HELD, 1)

    assert ledger.confirm_hold(offered.place.offer, "ann").status == BookingStatus.CONFIRMED
    with pytest.raises(NotWaitingError):
        waiting_list.place("ann", "GA")
    audited(ledger, follower)
    rows = {row.user_id: row for row in follower.view.places_of_tier("GA")}
    assert (rows["ann"].status, rows["ann"].booking_id, rows["bob"].status) == (
        "accepted",
        str(offered.place.offer),
        "waiting",
    )
    assert follower.view.waiting_counts() == [{"tier": "GA", "waiting": 1, "waiting_tickets": 1, "offers": 0}]
    assert follower.view.get_tier("GA").available == 0


def test_an_offer_lapses_at_its_deadline_by_the_expiry_process_and_goes_to_the_next(ledger, clock):
    bookings = sold_out(ledger)
    waiting_list = WaitingList(ledger)
    follower = Projector(ledger, open_view(ledger))
    expiry = HoldExpiry(ledger, follower.view)
    waiting_list.join("ann", "GA", 1)
    waiting_list.join("bob", "GA", 1)
    ledger.cancel(bookings[0], "b0")
    follower.catch_up()
    clock.now += timedelta(seconds=DEFAULT_OFFER_SECONDS) - timedelta(microseconds=1)
    assert expiry.expire_due() == 0
    clock.now += timedelta(microseconds=1)
    assert expiry.expire_due() == 1
    bob = waiting_list.place("bob", "GA")
    assert (bob.status, bob.place.offer_expires_at) == ("offered", clock.now + timedelta(seconds=DEFAULT_OFFER_SECONDS))
    follower.catch_up()
    assert [(r.user_id, r.status) for r in follower.view.places_of_tier("GA")] == [
        ("ann", "lapsed"),
        ("bob", "offered"),
    ]

    ledger.release_hold(bob.place.offer, "bob")  # bob declines: nobody waits, the ticket is back on sale
    assert ledger.get_tier("GA").available == 1
    assert ledger.book("public", "GA", 1).status == BookingStatus.CONFIRMED
    audited(ledger, follower)


def test_the_audit_names_a_waiting_list_row_the_events_do_not_have(ledger):
    sold_out(ledger)
    WaitingList(ledger).join("ann", "GA", 1)
    follower = Projector(ledger, open_view(ledger))
    audited(ledger, follower)
    with follower.view.datastore.transaction(commit=True) as cursor:
        cursor.execute(follower.view.sql("UPDATE {waiting_list} SET status = 'left'"))
    problems = TierAudit(ledger).verify("GA", follower.view)[1]
    assert [p.message for p in problems] == ["waiting_list rows for GA wait 0 in their order; the events say 1"]


def test_joining_leaving_and_their_refusals(ledger):
    sold_out(ledger)
    waiting_list = WaitingList(ledger)
    ledger.add_capacity("GA", 1)
    with pytest.raises(TierNotSoldOutError):
        waiting_list.join("ann", "GA", 1)
    waiting_list.join("ann", "GA", 2)
    assert ledger.get_tier("GA").available == 0  # the one left is kept for ann
    with pytest.raises(AlreadyWaitingError):
        waiting_list.join("ann", "GA", 1)
    left = waiting_list.leave("ann", "GA")
    assert (left.status, left.place.quantity) == ("left", 2)
    assert ledger.get_tier("GA").available == 1
    with pytest.raises(NotWaitingError):
        waiting_list.leave("ann", "GA")


def test_a_join_retried_with_its_key_is_one_place(ledger):
    sold_out(ledger)
    waiting_list = WaitingList(ledger)
    first = waiting_list.join("ann", "GA", 1, idempotency_key="k1")
    again = waiting_list.join("ann", "GA", 1, idempotency_key="k1")
    assert (again.place.entry_id, again.place.position) == (first.place.entry_id, 1)
    with pytest.raises(IdempotencyKeyReusedError):
        waiting_list.join("ann", "GA", 2, idempotency_key="k1")
    assert len(ledger.find_tier("GA").waiting) == 1


def test_more_capacity_is_offered_to_the_list_first(ledger):
    sold_out(ledger)
    waiting_list = WaitingList(ledger)
    waiting_list.join("ann", "GA", 2)
    waiting_list.join("bob", "GA", 1)
    ledger.add_capacity("GA", 2)
    assert waiting_list.place("ann", "GA").status == "offered"
    assert (waiting_list.place("bob", "GA").status, ledger.get_tier("GA").available) == ("waiting", 0)


def test_a_paid_tiers_offer_awaits_its_payment_and_a_refund_offers_the_ticket_again(ledger):
    terms = PaymentTerms("EUR", 3600)
    ledger.create_show(NewShow("gig", "Gig", [NewTier("PAID", Decimal("10.00"), 1)], payment=terms))
    desk, waiting_list = PaymentDesk(ledger), WaitingList(ledger)
    first = ledger.hold("x", "PAID", 1)
    paid = desk.open(first.booking_id)
    desk.receive(paid.payment_id, Incoming(1000, "EUR", "cash", "till-1"))
    waiting_list.join("ann", "PAID", 1)
    desk.cancel(first.booking_id, "x")  # refunded: the ticket goes to ann, awaiting her payment
    offer = waiting_list.place("ann", "PAID").place
    assert offer.offer_expires_at == START + timedelta(seconds=3600)
    due = desk.open(offer.offer)
    assert (due.amount_due, due.due_at) == (1000, offer.offer_expires_at)
    desk.receive(due.payment_id, Incoming(1000, "EUR", "cash", "till-2"))
    assert ledger.get_booking(offer.offer).status == BookingStatus.CONFIRMED
    assert TierAudit(ledger).verify("PAID")[1] == []


@pytest.mark.postgres
def test_public_bookings_cancellations_and_offers_racing_on_a_tiny_tier_never_sell_what_the_list_waits_for(
    postgres_env,
):
    """Threads against real PostgreSQL, on a tier of 2: buyers book and cancel at random
    while a waiting list of eight is offered every ticket that comes back and accepts it.
    The audit's replay checks every version: no public sale while anyone waited, offers in
    order, each ended once; and the list was served in the order it joined."""
    with BookingLedger(env=postgres_env) as ledger:
        ledger.create_tier("GA", Decimal("10.00"), 2)
        waiting_list = WaitingList(ledger)
        firsts = [ledger.book(f"first{n}", "GA", 1).booking_id for n in range(2)]
        queue = [f"w{n}" for n in range(8)]
        for user in queue:
            waiting_list.join(user, "GA", 1)
        stop = threading.Event()
        public_sales = []

        def public(n: int) -> None:
            while not stop.is_set():
                try:
                    public_sales.append(ledger.book(f"p{n}", "GA", 1).booking_id)
                except InsufficientTicketsError:
                    pass

        def cancel_firsts() -> None:
            for n, booking_id in enumerate(firsts):
                ledger.cancel(booking_id, f"first{n}")

        accepted = []

        def accept() -> None:
            give_up = time.monotonic() + 30
            while len(accepted) < len(queue) and time.monotonic() < give_up:
                for user in queue:
                    if user in accepted:
                        continue
                    try:
                        place = waiting_list.place(user, "GA")
                    except NotWaitingError:
                        continue
                    if place.status == "offered":
                        ledger.confirm_hold(place.place.offer, user)
                        accepted.append(user)
                        ledger.cancel(place.place.offer, user)  # and gives it back at once: the next is offered

        with ThreadPoolExecutor(6) as pool:
            buyers = [pool.submit(public, n) for n in range(4)]
            acceptor = pool.submit(accept)
            try:
                cancel_firsts()
                acceptor.result()
            finally:
                stop.set()
            for buyer in buyers:
                buyer.result()
        assert accepted == queue  # in the order they joined
        assert TierAudit(ledger).verify("GA")[1] == []
        # Only once nobody waited could the public buy: the two tickets the last gave back.
        assert len(public_sales) <= 2
