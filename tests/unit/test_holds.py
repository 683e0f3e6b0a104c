"""Holds in the domain: what a hold takes out of sale, and how exactly once it ends."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from domain.bookings import Booking
from domain.errors import (
    BookingNotConfirmedError,
    HoldExpiredError,
    HoldNotActiveError,
    InsufficientTicketsError,
    InvalidQuantityError,
    NotBookingOwnerError,
    SalesClosedError,
    UserLimitExceededError,
)
from domain.tiers import TicketTier

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(minutes=10)


def held(quantity: int = 2, capacity: int = 5, limit: int | None = None) -> tuple[TicketTier, Booking]:
    tier = TicketTier.open("VIP", Decimal("1.00"), capacity, limit)
    booking_id = uuid4()
    tier.hold(booking_id, "ann", quantity, EXPIRES)
    return tier, Booking.hold(booking_id, "ann", "VIP", quantity, EXPIRES)


def test_held_tickets_are_not_available_and_not_sold():
    tier, booking = held(2)
    assert (tier.sold, tier.held, tier.available) == (0, 2, 3)
    assert (booking.status, booking.expires_at) == ("held", EXPIRES)
    with pytest.raises(InsufficientTicketsError):
        tier.book(uuid4(), "bob", 4)


def test_confirming_sells_the_held_tickets_and_again_changes_nothing():
    tier, booking = held(2)
    booking.confirm_hold("ann", NOW)
    tier.confirm_hold(booking.id, 2)
    assert (booking.status, tier.sold, tier.held, tier.available) == ("confirmed", 2, 0, 3)
    booking.collect_events()
    booking.confirm_hold("ann", EXPIRES + timedelta(days=1))
    assert booking.collect_events() == []


def test_releasing_gives_the_tickets_back():
    tier, booking = held(2)
    booking.release_hold("ann", NOW)
    tier.release_hold(booking.id, "ann", 2, booking.status)
    assert (booking.status, tier.held, tier.available) == ("released", 0, 5)


@pytest.mark.parametrize("late", [timedelta(0), timedelta(seconds=1)])
def test_a_hold_cannot_be_confirmed_or_released_from_its_expiry_time_on(late):
    _, booking = held()
    for end in (booking.confirm_hold, booking.release_hold):
        with pytest.raises(HoldExpiredError):
            end("ann", EXPIRES + late)
    assert booking.status == "held"


def test_only_a_due_hold_expires_and_only_once():
    _, booking = held()
    with pytest.raises(HoldNotActiveError):
        booking.expire(EXPIRES - timedelta(microseconds=1))
    booking.expire(EXPIRES)
    booking.collect_events()
    with pytest.raises(HoldNotActiveError):
        booking.expire(EXPIRES)
    assert booking.status == "expired" and booking.collect_events() == []
    with pytest.raises(HoldExpiredError):
        booking.confirm_hold("ann", NOW)


def test_an_ended_hold_cannot_end_another_way():
    _, booking = held()
    booking.confirm_hold("ann", NOW)
    with pytest.raises(HoldNotActiveError):
        booking.release_hold("ann", NOW)
    with pytest.raises(HoldNotActiveError):
        booking.expire(EXPIRES)


def test_only_the_holder_confirms_or_releases_and_a_hold_is_not_cancelled():
    _, booking = held()
    with pytest.raises(NotBookingOwnerError):
        booking.confirm_hold("bob", NOW)
    with pytest.raises(NotBookingOwnerError):
        booking.release_hold("bob", NOW)
    with pytest.raises(BookingNotConfirmedError):
        booking.cancel("ann")


def test_holds_count_towards_the_per_user_limit_until_they_are_released():
    tier, booking = held(2, limit=3)
    with pytest.raises(UserLimitExceededError):
        tier.book(uuid4(), "ann", 2)
    tier.release_hold(booking.id, "ann", 2, "released")
    tier.book(uuid4(), "ann", 3)


def test_a_closed_tier_takes_no_new_holds_but_a_hold_made_before_may_be_confirmed():
    tier, booking = held(2)
    tier.close_sales()
    with pytest.raises(SalesClosedError):
        tier.hold(uuid4(), "bob", 1, EXPIRES)
    tier.confirm_hold(booking.id, 2)
    assert tier.sold == 2


def test_a_tier_cannot_end_more_held_tickets_than_it_holds():
    tier, booking = held(2)
    with pytest.raises(ValueError):
        tier.confirm_hold(booking.id, 3)


def test_a_cancellation_retried_with_its_own_key_changes_nothing():
    booking = Booking.confirm(uuid4(), "ann", "VIP", 1)
    booking.cancel("ann", idempotency_key="k")
    booking.collect_events()
    booking.cancel("ann", idempotency_key="k")
    assert booking.collect_events() == []
    with pytest.raises(Exception, match="already cancelled"):
        booking.cancel("ann", idempotency_key="other")


def test_a_refusal_says_which_booking_and_what_state_it_is_in():
    """The message is what an API client reads in the error body."""
    _, booking = held()
    with pytest.raises(BookingNotConfirmedError, match=f"^Booking {booking.id} is held; only a confirmed booking"):
        booking.cancel("ann")
    with pytest.raises(HoldNotActiveError, match=f"^Booking {booking.id} is held, not a hold that is due"):
        booking.expire(NOW)
    with pytest.raises(NotBookingOwnerError, match=f"^No booking '{booking.id}'.$"):  # as if there were none
        booking.confirm_hold("bob", NOW)
    with pytest.raises(HoldExpiredError, match=f"^Hold {booking.id} expired at {re.escape(EXPIRES.isoformat())}"):
        booking.confirm_hold("ann", EXPIRES)
    booking.confirm_hold("ann", NOW)
    with pytest.raises(HoldNotActiveError, match=f"^Booking {booking.id} is confirmed, not held"):
        booking.release_hold("ann", NOW)


def test_a_hold_counts_against_the_per_user_limit_like_a_sale():
    tier, _ = held(2, limit=3)
    with pytest.raises(UserLimitExceededError):
        tier.hold(uuid4(), "ann", 2, EXPIRES)
    with pytest.raises(InvalidQuantityError, match=r"^Tier VIP holds 2 ticket\(s\), not 3\.$"):
        tier.confirm_hold(uuid4(), 3)


def test_a_summary_shows_the_booking_as_it_is_now():
    _, booking = held(2)
    booking.confirm_hold("ann", NOW)
    summary = booking.summary()
    assert (
        summary.booking_id,
        summary.user_id,
        summary.tier,
        summary.quantity,
        summary.status,
        summary.expires_at,
    ) == (booking.id, "ann", "VIP", 2, "confirmed", EXPIRES)
    assert (summary.created_at, summary.updated_at) == (booking.created_on, booking.modified_on)
    assert summary.created_at <= summary.updated_at
