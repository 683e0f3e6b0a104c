"""Event topics are stored in every row: renaming a module orphans the history."""

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from domain.bookings import Booking
from domain.shows import Show
from domain.tiers import TicketTier
from projections import LedgerProjection


def test_event_topics_are_the_stored_names():
    assert [
        get_topic(cls)
        for cls in (
            TicketTier.Created,
            TicketTier.TicketsBooked,
            Booking.Cancelled,
            TicketTier.OfferMade,
            TicketTier.PriceChanged,
        )
    ] == [
        "domain.tiers:TicketTier.Created",
        "domain.tiers:TicketTier.TicketsBooked",
        "domain.bookings:Booking.Cancelled",
        "domain.tiers:TicketTier.OfferMade",
        "domain.tiers:TicketTier.PriceChanged",
    ]


def test_the_projection_follows_every_event_class_of_the_aggregates_it_shows():
    """Tiers, bookings (their scans too) and events (shows); not orders: an order's sales are
    its tiers' and bookings' events, recorded with it."""
    events = {
        get_topic(cls)
        for aggregate in (TicketTier, Booking, Show)
        for cls in vars(aggregate).values()
        if isinstance(cls, type)
        and issubclass(cls, Aggregate.Event)
        and cls not in (aggregate.Event, Booking.Created)  # base classes the library adds, never recorded
        and cls is not TicketTier.OfferEnded  # ours: the base of an offer's three endings, never recorded
    }
    assert events and set(LedgerProjection.topics) == events
