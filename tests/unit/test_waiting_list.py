"""A tier's waiting list in the domain: who is offered what, in which order, and that the
public never buys a ticket the list waits for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from domain.errors import (
    AlreadyWaitingError,
    InsufficientTicketsError,
    InvalidTierError,
    NotWaitingError,
    SalesClosedError,
    TierNotSoldOutError,
    UserLimitExceededError,
)
from domain.payments import PaymentTerms
from domain.tiers import TicketTier
from domain.waiting_list import DEFAULT_OFFER_SECONDS, offer_booking_id

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def sold_out(capacity: int = 2, limit: int | None = None, **terms: object) -> tuple[TicketTier, list[UUID]]:
    """A tier whose ``capacity`` tickets are sold, one each, to b0, b1, ..."""
    tier = TicketTier.open("GA", Decimal("10.00"), capacity, limit, **terms)  # type: ignore[arg-type]
    bookings = [uuid4() for _ in range(capacity)]
    for n, booking in enumerate(bookings):
        tier.book(booking, f"b{n}", 1)
    return tier, bookings


def join(tier: TicketTier, user: str, quantity: int = 1) -> UUID:
    entry = uuid4()
    tier.join_waiting_list(entry, user, quantity, NOW)
    return entry


def offers(tier: TicketTier) -> list[tuple[str, int]]:
    return [(offer["user_id"], offer["quantity"]) for offer in tier.offers]


def test_a_cancelled_ticket_is_offered_to_the_first_in_line_not_sold_to_the_public():
    tier, bookings = sold_out()
    ann = join(tier, "ann")
    join(tier, "bob")
    tier.release(bookings[0], 1, "b0", now=NOW)
    assert offers(tier) == [("ann", 1)]
    assert (tier.available, tier.held, tier.kept) == (0, 1, 0)
    offer = tier.offers[0]
    assert offer["booking_id"] == str(offer_booking_id(ann))
    assert offer["expires_at"] == NOW + timedelta(seconds=DEFAULT_OFFER_SECONDS)
    with pytest.raises(InsufficientTicketsError):
        tier.book(uuid4(), "public", 1, NOW)
    assert tier.place_of("bob").position == 1  # type: ignore[union-attr]


def test_an_accepted_offer_is_sold_and_its_user_leaves_the_list():
    tier, bookings = sold_out()
    ann = join(tier, "ann")
    tier.release(bookings[0], 1, "b0", now=NOW)
    tier.confirm_hold(offer_booking_id(ann), 1)
    assert (tier.sold, tier.held, tier.offers, tier.place_of("ann")) == (2, 0, [], None)
    kinds = [type(e).__name__ for e in tier.collect_events()][-2:]
    assert kinds == ["HoldConfirmed", "OfferAccepted"]


def test_a_lapsed_offer_goes_to_the_next_in_line_and_the_last_lapse_puts_it_back_on_sale():
    tier, bookings = sold_out()
    ann, bob = join(tier, "ann"), join(tier, "bob")
    tier.release(bookings[0], 1, "b0", now=NOW)
    tier.release_hold(offer_booking_id(ann), "ann", 1, "expired", now=NOW)
    assert offers(tier) == [("bob", 1)]
    tier.release_hold(offer_booking_id(bob), "bob", 1, "released", now=NOW)
    assert (tier.offers, tier.waiting, tier.available, tier.held) == ([], [], 1, 0)
    kinds = [type(e).__name__ for e in tier.collect_events()]
    assert kinds.count("OfferLapsed") == 1 and kinds.count("OfferDeclined") == 1


def test_tickets_are_kept_in_strict_order_until_the_first_in_line_can_have_all_they_asked_for():
    tier, bookings = sold_out(3)
    join(tier, "ann", 2)
    join(tier, "bob", 1)
    tier.release(bookings[0], 1, "b0", now=NOW)
    assert (offers(tier), tier.kept, tier.available) == ([], 1, 0)  # bob asked for fewer: not served first
    tier.release(bookings[1], 1, "b1", now=NOW)
    assert (offers(tier), tier.kept) == ([("ann", 2)], 0)
    tier.add_capacity(1, now=NOW)
    assert offers(tier) == [("ann", 2), ("bob", 1)]


def test_joining_keeps_what_is_left_for_the_list_and_leaving_puts_it_back_on_sale():
    tier = TicketTier.open("GA", Decimal("10.00"), 3)
    tier.book(uuid4(), "x", 2)
    join(tier, "ann", 2)
    assert (tier.available, tier.kept, tier.held) == (0, 1, 1)
    with pytest.raises(InsufficientTicketsError):
        tier.hold(uuid4(), "public", 1, NOW + timedelta(minutes=5), NOW)
    tier.leave_waiting_list("ann", NOW)
    assert (tier.available, tier.kept, tier.held, tier.waiting) == (1, 0, 0, [])


def test_leaving_the_head_of_the_line_serves_the_next():
    tier, bookings = sold_out(2)
    join(tier, "ann", 2)
    join(tier, "bob", 1)
    tier.release(bookings[0], 1, "b0", now=NOW)
    tier.leave_waiting_list("ann", NOW)
    assert offers(tier) == [("bob", 1)]


def test_a_tier_with_tickets_left_and_nobody_waiting_is_booked_not_waited_for():
    tier, _ = sold_out(2)
    tier.add_capacity(1, now=NOW)
    with pytest.raises(TierNotSoldOutError):
        join(tier, "ann", 1)
    join(tier, "ann", 2)  # more than is left: they wait
    with pytest.raises(InsufficientTicketsError):  # and the one left is kept for them
        tier.book(uuid4(), "public", 1)


def test_a_buyer_has_one_place_per_tier_and_is_never_offered_twice_at_once():
    tier, bookings = sold_out()
    join(tier, "ann")
    with pytest.raises(AlreadyWaitingError):
        join(tier, "ann")
    tier.release(bookings[0], 1, "b0", now=NOW)
    with pytest.raises(AlreadyWaitingError):  # offered: not on the list again beside it
        join(tier, "ann")
    with pytest.raises(NotWaitingError):  # an offer is declined by releasing its hold
        tier.leave_waiting_list("ann", NOW)


def test_the_per_user_limit_counts_the_tickets_waited_for():
    tier, _ = sold_out(2, limit=2)
    join(tier, "ann", 2)
    with pytest.raises(UserLimitExceededError):
        join(tier, "b0", 2)  # b0 has one already


def test_nobody_joins_or_is_offered_once_sales_are_closed():
    tier, bookings = sold_out()
    join(tier, "ann")
    tier.close_sales()
    with pytest.raises(SalesClosedError):
        join(tier, "bob")
    tier.release(bookings[0], 1, "b0", now=NOW)
    assert (offers(tier), tier.kept, tier.available) == ([], 1, 0)


def test_an_offer_lasts_the_events_setting_else_a_paid_tiers_time_to_pay():
    tier, bookings = sold_out(offer_seconds=600)
    join(tier, "ann")
    tier.release(bookings[0], 1, "b0", now=NOW)
    assert tier.offers[0]["expires_at"] == NOW + timedelta(seconds=600)
    paid = TicketTier.open("P", Decimal("10.00"), 1, payment=PaymentTerms("EUR", 3600))
    assert paid.seconds_to_accept == 3600
    with pytest.raises(InvalidTierError):
        TicketTier.open("Q", Decimal("1.00"), 1, offer_seconds=10)


def test_a_command_that_would_offer_needs_the_time():
    tier, bookings = sold_out()
    join(tier, "ann")
    with pytest.raises(TypeError):
        tier.release(bookings[0], 1, "b0")


def test_the_list_survives_a_replay_from_its_events():
    tier, bookings = sold_out(3)
    join(tier, "ann", 2)
    join(tier, "bob", 1)
    tier.release(bookings[0], 1, "b0", now=NOW)
    tier.release(bookings[1], 1, "b1", now=NOW)
    events = tier.collect_events()
    copy = None
    for domain_event in events:
        copy = domain_event.mutate(copy)
    assert copy is not None
    assert (copy.waiting, copy.offers, copy.kept, copy.held) == (tier.waiting, tier.offers, tier.kept, tier.held)
