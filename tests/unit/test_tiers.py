from decimal import Decimal
from uuid import uuid4

import pytest

from domain.errors import (
    InsufficientTicketsError,
    InvalidQuantityError,
    InvalidTierError,
    SalesClosedError,
    UserLimitExceededError,
)
from domain.tiers import TicketTier, tier_id


def new_tier(capacity: int = 5) -> TicketTier:
    return TicketTier.open("VIP", Decimal("100.00"), capacity)


def test_a_tiers_id_is_derived_from_its_code():
    assert new_tier().id == tier_id("VIP") != tier_id("GA")


def test_booking_sells_tickets_until_none_are_available():
    tier = new_tier(capacity=3)
    tier.book(uuid4(), "u1", 2)
    tier.book(uuid4(), "u2", 1)
    assert (tier.sold, tier.available) == (3, 0)


def test_booking_more_than_available_raises_and_records_nothing():
    tier = new_tier(capacity=2)
    tier.collect_events()
    with pytest.raises(InsufficientTicketsError) as raised:
        tier.book(uuid4(), "u1", 3)
    assert (raised.value.requested, raised.value.available) == (3, 2)
    assert tier.collect_events() == [] and tier.sold == 0


@pytest.mark.parametrize("quantity", [0, -1, True, 1.5, "2"])
def test_quantities_must_be_whole_numbers_of_at_least_one(quantity):
    tier = new_tier()
    tier.collect_events()
    for command in (lambda: tier.book(uuid4(), "u1", quantity), lambda: tier.add_capacity(quantity)):
        with pytest.raises(InvalidQuantityError):
            command()
    assert tier.collect_events() == []


def test_released_tickets_go_back_on_sale():
    tier = new_tier(capacity=2)
    booking = uuid4()
    tier.book(booking, "u1", 2)
    tier.release(booking, 2)
    assert tier.available == 2


def test_cannot_release_more_than_was_sold():
    tier = new_tier()
    with pytest.raises(InvalidQuantityError):
        tier.release(uuid4(), 1)


def test_added_capacity_is_available():
    tier = new_tier(capacity=1)
    tier.book(uuid4(), "u1", 1)
    tier.add_capacity(4)
    assert (tier.capacity, tier.available) == (5, 4)


@pytest.mark.parametrize(
    ("code", "price", "capacity"),
    [
        ("vip", Decimal("1.00"), 1),
        ("", Decimal("1.00"), 1),
        ("VIP", Decimal("-1"), 1),
        ("VIP", Decimal("1.001"), 1),
        ("VIP", 1.5, 1),
        ("VIP", Decimal("1"), -1),
        ("VIP", Decimal("1"), True),
        ("VIP", Decimal("10000000000.00"), 1),
        ("VIP", Decimal("1"), 1_000_000_001),
    ],
)
def test_a_tier_needs_a_code_a_price_in_cents_and_a_capacity(code, price, capacity):
    with pytest.raises(InvalidTierError):
        TicketTier.open(code, price, capacity)


def test_replaying_the_events_rebuilds_the_same_state():
    tier = new_tier(capacity=4)
    tier.book(uuid4(), "u1", 3)
    tier.add_capacity(2)
    replayed = None
    for event in tier.collect_events():
        replayed = event.mutate(replayed)
    assert (replayed.capacity, replayed.sold, replayed.version) == (6, 3, tier.version)


def test_capacity_cannot_grow_past_what_the_read_tables_can_hold():
    tier = TicketTier.open("VIP", Decimal("1.00"), 999_999_999)
    tier.add_capacity(1)
    with pytest.raises(InvalidQuantityError):
        tier.add_capacity(1)


def test_a_per_user_limit_counts_each_users_tickets_and_releases():
    tier = TicketTier.open("VIP", Decimal("1.00"), 10, per_user_limit=3)
    first = uuid4()
    tier.book(first, "ann", 2)
    with pytest.raises(UserLimitExceededError):
        tier.book(uuid4(), "ann", 2)
    tier.book(uuid4(), "bob", 3)
    tier.release(first, 2, "ann")
    tier.book(uuid4(), "ann", 3)
    assert tier.sold_to == {"ann": 3, "bob": 3}


def test_a_closed_tier_sells_nothing_but_takes_cancellations():
    tier = TicketTier.open("VIP", Decimal("1.00"), 10)
    booking = uuid4()
    tier.book(booking, "ann", 2)
    tier.close_sales()
    tier.close_sales()
    with pytest.raises(SalesClosedError):
        tier.book(uuid4(), "bob", 1)
    tier.release(booking, 2, "ann")
    assert (tier.available, tier.on_sale, len(tier.collect_events())) == (10, False, 4)


def test_a_refusal_says_which_tier_and_what_it_has():
    """The message is what an API client reads in the error body."""
    tier = new_tier(capacity=2)
    with pytest.raises(
        InsufficientTicketsError, match=r"^Tier VIP has 2 ticket\(s\) available, 3 requested\.$"
    ) as raised:
        tier.book(uuid4(), "u1", 3)
    assert raised.value.tier == "VIP"
    with pytest.raises(InvalidQuantityError, match=r"^Cannot release 1 ticket\(s\): tier VIP has sold 0\.$"):
        tier.release(uuid4(), 1)
    with pytest.raises(InvalidQuantityError, match=r"^Capacity would exceed 1,000,000,000\.$"):
        tier.add_capacity(1_000_000_000)


def test_a_users_bookings_add_up_towards_the_per_user_limit():
    tier = TicketTier.open("VIP", Decimal("1.00"), 10, per_user_limit=3)
    tier.book(uuid4(), "ann", 1)
    tier.book(uuid4(), "ann", 1)
    with pytest.raises(UserLimitExceededError, match=r"^Tier VIP sells at most 3 ticket\(s\) per user; ann has 2\.$"):
        tier.book(uuid4(), "ann", 2)
    tier.close_sales()
    with pytest.raises(SalesClosedError, match=r"^Sales of tier VIP are closed\.$"):
        tier.book(uuid4(), "ann", 1)


def test_the_largest_price_and_capacity_the_read_tables_hold_are_accepted():
    tier = TicketTier.open("VIP", Decimal("9999999999.99"), 1_000_000_000)
    assert (tier.price, tier.capacity) == (Decimal("9999999999.99"), 1_000_000_000)


def test_a_refused_tier_or_quantity_says_what_was_wrong():
    refusals = [
        (lambda: TicketTier.open("vip", Decimal("1.00"), 1), "Tier code must match [A-Z][A-Z0-9_]{0,31}, got 'vip'."),
        (
            lambda: TicketTier.open("VIP", Decimal("1.001"), 1),
            "Price must be a Decimal from 0 to 9999999999.99 in whole cents, got Decimal('1.001').",
        ),
        (
            lambda: TicketTier.open("VIP", Decimal("1.00"), -1),
            "Capacity must be a whole number from 0 to 1,000,000,000, got -1.",
        ),
        (lambda: new_tier().book(uuid4(), "u1", 0), "Quantity must be a whole number ≥ 1, got 0."),
    ]
    for command, message in refusals:
        with pytest.raises((InvalidTierError, InvalidQuantityError)) as refused:
            command()
        assert str(refused.value) == message
