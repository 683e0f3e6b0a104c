"""A tier's price changed by staff (``TicketTier.change_price``): checked as a new tier's price
is, recorded with who changed it, never between free and priced, never once sales are closed,
and not at all when it is the same price."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.errors import InvalidPaymentError, InvalidTierError, PriceChangeRefusedError, SalesClosedError
from domain.payments import PaymentTerms
from domain.tiers import TicketTier

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def priced(price: str = "100.00", payment: PaymentTerms | None = None) -> TicketTier:
    tier = TicketTier.open("VIP", Decimal(price), 10, payment=payment)
    tier.collect_events()  # what follows is the change alone
    return tier


def test_a_new_price_is_recorded_with_the_one_before_and_who_changed_it():
    tier = priced()
    tier.change_price(Decimal("80.00"), actor="member:mia")
    [changed] = tier.collect_events()
    assert isinstance(changed, TicketTier.PriceChanged)
    assert (changed.old_price, changed.new_price, changed.actor) == (Decimal("100.00"), Decimal("80.00"), "member:mia")
    assert tier.price == Decimal("80.00")


def test_replaying_the_events_gives_the_last_price():
    tier = TicketTier.open("VIP", Decimal("100.00"), 10)
    tier.change_price(Decimal("80.00"), actor="member:mia")
    tier.change_price(Decimal("95.50"), actor="operator")
    replayed = None
    for event in tier.collect_events():
        replayed = event.mutate(replayed)
    assert replayed is not None and (replayed.price, replayed.version) == (Decimal("95.50"), 3)


@pytest.mark.parametrize(
    "price",
    [Decimal("-0.01"), Decimal("80.001"), Decimal("10000000000.00"), 80.5, "80.00", Decimal("Infinity")],
)
def test_a_new_price_is_checked_as_a_new_tiers_price_is(price):
    tier = priced()
    for change in (lambda: tier.change_price(price), lambda: TicketTier.open("GA", price, 1)):
        with pytest.raises(InvalidTierError, match=r"^Price must be a Decimal from 0 to 9999999999\.99 in whole cents"):
            change()
    assert (tier.price, tier.collect_events()) == (Decimal("100.00"), [])


def test_the_largest_price_the_read_tables_hold_is_accepted():
    tier = priced()
    tier.change_price(Decimal("9999999999.99"))
    assert tier.price == Decimal("9999999999.99")


def test_the_same_price_again_records_nothing_so_a_retry_is_harmless():
    tier = priced()
    tier.change_price(Decimal("100"))  # equal to 100.00
    tier.close_sales()
    tier.collect_events()
    tier.change_price(Decimal("100.00"))  # closed, but nothing would change
    assert (tier.price, tier.collect_events()) == (Decimal("100.00"), [])


def test_without_an_actor_the_change_names_none():
    tier = priced()
    tier.change_price(Decimal("80.00"))
    assert [event.actor for event in tier.collect_events()] == [None]


def test_a_closed_tier_keeps_its_price():
    tier = priced()
    tier.close_sales()
    with pytest.raises(SalesClosedError, match=r"^Sales of tier VIP are closed: its price stays 100\.00\.$"):
        tier.change_price(Decimal("80.00"))
    assert tier.price == Decimal("100.00")


def test_a_tier_of_an_event_keeps_its_price_once_its_window_closes_and_not_before():
    tier = TicketTier.open(
        "VIP", Decimal("100.00"), 10, sale_opens=NOW + timedelta(hours=1), sale_closes=NOW + timedelta(hours=2)
    )
    tier.change_price(Decimal("90.00"), now=NOW)  # before the sale opens: the best time to set it
    with pytest.raises(SalesClosedError):
        tier.change_price(Decimal("80.00"), now=NOW + timedelta(hours=2))
    assert tier.price == Decimal("90.00")


@pytest.mark.parametrize(
    ("before", "after", "message"),
    [
        ("100.00", "0.00", r"^Tier VIP is priced: it cannot be made free; create a tier of its own for that\.$"),
        ("0.00", "5.00", r"^Tier VIP is free: it cannot be given a price; create a tier of its own for that\.$"),
    ],
)
def test_a_price_never_changes_between_free_and_priced(before, after, message):
    tier = priced(before)
    with pytest.raises(PriceChangeRefusedError, match=message):
        tier.change_price(Decimal(after))
    assert (tier.price, tier.collect_events()) == (Decimal(before), [])


def test_a_paid_tier_is_never_made_free():
    tier = priced("45.50", PaymentTerms("EUR", 900))
    with pytest.raises(PriceChangeRefusedError):
        tier.change_price(Decimal("0"))
    tier.change_price(Decimal("39.90"))
    assert (tier.price, tier.payment_terms) == (Decimal("39.90"), PaymentTerms("EUR", 900))


def test_a_paid_tiers_new_price_is_whole_minor_units_of_its_currency():
    tier = priced("1500", PaymentTerms("JPY", 900))
    with pytest.raises(InvalidPaymentError, match=r"^1500\.50 JPY is not a whole number of minor units\.$"):
        tier.change_price(Decimal("1500.50"))
    tier.change_price(Decimal("1800"))
    assert tier.price == Decimal("1800")
