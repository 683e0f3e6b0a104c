"""Event topics are stored in every row: renaming a module orphans the history."""

from eventsourcing.utils import get_topic

from domain.bookings import Booking
from domain.tiers import TicketTier


def test_event_topics_are_the_stored_names():
    assert [get_topic(cls) for cls in (TicketTier.Created, TicketTier.TicketsBooked, Booking.Cancelled)] == [
        "domain.tiers:TicketTier.Created",
        "domain.tiers:TicketTier.TicketsBooked",
        "domain.bookings:Booking.Cancelled",
    ]
