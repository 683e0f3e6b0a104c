from uuid import uuid4

import pytest

from domain.bookings import Booking, BookingStatus
from domain.errors import (
    BookingAlreadyCancelledError,
    InvalidQuantityError,
    NotBookingOwnerError,
)


def test_a_booking_is_confirmed_with_the_id_its_sale_refers_to():
    booking_id = uuid4()
    booking = Booking.confirm(booking_id, "u1", "VIP", 2)
    assert (booking.id, booking.status, booking.quantity) == (booking_id, BookingStatus.CONFIRMED, 2)


def test_the_owner_can_cancel_once():
    booking = Booking.confirm(uuid4(), "u1", "VIP", 2)
    booking.cancel("u1")
    assert booking.status == BookingStatus.CANCELLED
    with pytest.raises(BookingAlreadyCancelledError):
        booking.cancel("u1")


def test_another_user_cannot_cancel():
    booking = Booking.confirm(uuid4(), "u1", "VIP", 2)
    with pytest.raises(NotBookingOwnerError):
        booking.cancel("u2")
    assert booking.status == BookingStatus.CONFIRMED


def test_a_booking_needs_at_least_one_ticket():
    with pytest.raises(InvalidQuantityError):
        Booking.confirm(uuid4(), "u1", "VIP", 0)
