"""A tier's price changed by staff, on both stores: the command and who it names, the read
tables and a rebuild, the audit, and what was sold or held before keeping its own price (a
hold's payment, a waiting list's offer's), also while holds race the change from two
processes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from uuid import UUID

import pytest

from application import BookingLedger
from application.audit.tier_audit import TierAudit
from application.booking.tiers import NewShow, NewTier
from application.booking.waiting_list import WaitingList
from application.payments.desk import PaymentDesk
from application.payments.references import creditor_reference
from domain.bookings import BookingStatus
from domain.errors import PriceChangeRefusedError, SalesClosedError
from domain.payments import Incoming, Payment, PaymentTerms, payment_id
from domain.tiers import TicketTier, tier_id
from projections import Projector, open_view
from projections.read_model.rebuild import rebuild
from tests.integration.clock import Clock

EUR = PaymentTerms("EUR", seconds_to_pay=900)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(store_env, clock) -> Iterator[BookingLedger]:
    with BookingLedger(env=store_env) as ledger:
        ledger.clock = clock
        yield ledger


def paid_tier(ledger: BookingLedger, capacity: int = 10, code: str = "GALA") -> str:
    ledger.create_show(NewShow(code.lower(), "Gala", [NewTier(code, Decimal("10.00"), capacity)], payment=EUR))
    return code


def payment_of(ledger: BookingLedger, booking_id: UUID) -> Payment | None:
    return ledger.aggregates.find(payment_id(creditor_reference(booking_id)), Payment)


def test_a_new_price_is_recorded_with_who_changed_it_and_answered_with_the_tier(ledger):
    ledger.create_tier("VIP", Decimal("100.00"), 5, actor="operator")
    ledger.book("ann", "VIP", 2)
    changed = ledger.change_price("VIP", Decimal("80.00"), actor="member:mia")
    assert (changed.price, changed.sold, changed.version) == (Decimal("80.00"), 2, 3)
    assert ledger.get_tier("VIP") == changed
    last = list(ledger.events.get(tier_id("VIP")))[-1]
    assert isinstance(last, TicketTier.PriceChanged)
    assert (last.old_price, last.new_price, last.actor) == (Decimal("100.00"), Decimal("80.00"), "member:mia")


def test_the_same_price_again_records_nothing(ledger):
    ledger.create_tier("VIP", Decimal("100.00"), 5)
    ledger.change_price("VIP", Decimal("80.00"))
    again = ledger.change_price("VIP", Decimal("80.00"))
    assert (again.price, again.version) == (Decimal("80.00"), 2)


def test_a_closed_tier_and_a_free_one_keep_their_price(ledger):
    ledger.create_tier("VIP", Decimal("100.00"), 5)
    ledger.create_tier("FREE", Decimal("0.00"), 5)
    ledger.close_sales("VIP")
    with pytest.raises(SalesClosedError):
        ledger.change_price("VIP", Decimal("80.00"))
    with pytest.raises(PriceChangeRefusedError):
        ledger.change_price("FREE", Decimal("5.00"))
    assert [(t.price, t.version) for t in map(ledger.get_tier, ("VIP", "FREE"))] == [
        (Decimal("100.00"), 2),
        (Decimal("0.00"), 1),
    ]


def test_the_read_tables_show_the_new_price_once_projected_and_a_rebuild_gives_the_same(ledger):
    ledger.create_tier("VIP", Decimal("100.00"), 5)
    ledger.create_tier("GA", Decimal("10.00"), 9)
    view = open_view(ledger)
    projector = Projector(ledger, view)
    projector.catch_up()
    ledger.change_price("VIP", Decimal("80.00"))
    assert view.get_tier("VIP").price == Decimal("100.00")  # not projected yet
    ledger.book("ann", "VIP", 1)
    ledger.change_price("VIP", Decimal("75.50"))  # two changes in one page: the last one wins
    ledger.add_capacity("VIP", 1)
    projector.catch_up()
    live = view.list_tiers()
    assert [(t.tier, t.price, t.capacity, t.sold) for t in live] == [
        ("GA", Decimal("10.00"), 9, 0),
        ("VIP", Decimal("75.50"), 6, 1),
    ]
    rebuild(ledger)
    assert view.list_tiers() == live
    assert TierAudit(ledger).verify("VIP", view)[1] == []


def test_a_hold_owes_the_price_it_was_held_at(ledger):
    tier = paid_tier(ledger)
    before = ledger.hold("ann", tier, 2).booking_id
    ledger.change_price(tier, Decimal("12.50"))
    after = ledger.hold("bob", tier, 1).booking_id
    desk = PaymentDesk(ledger)
    assert (desk.open(before).amount_due, desk.open(after).amount_due) == (2000, 1250)
    desk.receive(desk.open(before).payment_id, Incoming(2000, "EUR", "cash", "till-1"))
    assert ledger.get_booking(before).status == BookingStatus.CONFIRMED


def test_a_waiting_lists_offer_owes_the_price_it_was_offered_at(ledger):
    """An offer's payment is opened when first asked for: the price change opens it first,
    at the price the offer was made at, in the change's own recording."""
    tier = paid_tier(ledger, capacity=1)
    desk, waiting_list = PaymentDesk(ledger), WaitingList(ledger)
    first = ledger.hold("x", tier, 1).booking_id
    desk.receive(desk.open(first).payment_id, Incoming(1000, "EUR", "cash", "till-1"))
    waiting_list.join("ann", tier, 1)
    desk.cancel(first, "x")  # refunded: the ticket is offered to ann, her payment not yet opened
    offer = waiting_list.place("ann", tier).place.offer
    ledger.change_price(tier, Decimal("10.00"))  # the same price: nothing changes, nothing is opened
    assert offer is not None and payment_of(ledger, offer) is None
    ledger.change_price(tier, Decimal("12.00"))
    opened_with_the_change = payment_of(ledger, offer)
    assert desk.open(offer).amount_due == 1000
    assert opened_with_the_change is not None and opened_with_the_change.amount_due == 1000
    desk.receive(opened_with_the_change.id, Incoming(1000, "EUR", "cash", "till-2"))
    assert ledger.get_booking(offer).status == BookingStatus.CONFIRMED
    assert TierAudit(ledger).verify(tier)[1] == []


def test_holds_racing_price_changes_from_two_processes_each_owe_the_price_of_the_version_they_were_held_on(
    store_env, clock
):
    """Two ledgers (two processes' caches) hold tickets on one paid tier while either changes
    its price: every hold and change is recorded, and each hold's payment is the price the
    tier had at the version its hold was decided on, as the tier's own events tell."""
    with BookingLedger(env=store_env) as one, BookingLedger(env=store_env) as two:
        one.clock = two.clock = clock
        tier = paid_tier(one, capacity=100)
        prices = [Decimal(p) for p in ("11.00", "12.50", "9.90", "14.00")]
        start = threading.Barrier(24)

        def act(n: int) -> None:
            ledger = one if n % 2 else two
            start.wait()
            if n % 6 == 0:
                ledger.change_price(tier, prices[n // 6], actor=f"member:{n}")
            else:
                ledger.hold(f"user-{n}", tier, 1 + n % 3)

        with ThreadPoolExecutor(24) as pool:
            list(pool.map(act, range(24)))
        price, owed, changes = None, {}, 0
        for event in one.events.get(tier_id(tier)):
            if isinstance(event, TicketTier.Created):
                price = event.price
            elif isinstance(event, TicketTier.PriceChanged):
                assert event.old_price == price
                price, changes = event.new_price, changes + 1
            elif isinstance(event, TicketTier.TicketsHeld):
                owed[event.booking_id] = int(price * 100) * event.quantity
        assert (len(owed), changes) == (20, 4)
        assert {b: payment.amount_due for b in owed if (payment := payment_of(two, b))} == owed
        assert one.get_tier(tier).price == two.get_tier(tier).price == price
        assert TierAudit(one).verify(tier)[1] == []
