"""An event (a show) and its tiers' sale window: the tier itself refuses a sale outside it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from domain.errors import InvalidShowError, SalesClosedError, SalesNotOpenError
from domain.shows import Show
from domain.tiers import TicketTier

OPENS = datetime(2026, 12, 1, 10, tzinfo=UTC)
CLOSES = datetime(2026, 12, 31, 20, tzinfo=UTC)


def tier() -> TicketTier:
    return TicketTier.open("NYE_GA", Decimal("40.00"), 10, None, OPENS, CLOSES)


@pytest.mark.parametrize(
    ("now", "refused"),
    [
        (OPENS - timedelta(microseconds=1), SalesNotOpenError),
        (OPENS, None),
        (CLOSES - timedelta(microseconds=1), None),
        (CLOSES, SalesClosedError),
    ],
)
def test_a_tier_of_an_event_sells_only_inside_its_window(now, refused):
    sold = tier()
    if refused:
        with pytest.raises(refused):
            sold.book(uuid4(), "ann", 1, now)
        with pytest.raises(refused):
            sold.hold(uuid4(), "ann", 1, CLOSES, now)
        assert sold.sold == sold.held == 0
    else:
        sold.book(uuid4(), "ann", 1, now)
        assert sold.sold == 1


def test_a_tier_recorded_before_events_had_windows_still_loads_without_one():
    (event,) = TicketTier.open("VIP", Decimal("100.00"), 10).collect_events()
    for name in ("sale_opens", "sale_closes"):  # as stored before the fields existed
        del event.__dict__[name]
    loaded = event.mutate(None)
    assert (loaded.sale_opens, loaded.sale_closes, loaded.capacity) == (None, None, 10)
    loaded.book(uuid4(), "ann", 1, datetime(2030, 1, 1, tzinfo=UTC))
    assert loaded.sold == 1


@pytest.mark.parametrize(
    "terms",
    [
        {"code": "main"},  # the default event's
        {"code": "Has Spaces"},
        {"name": " "},
        {"name": "nul\x00"},  # PostgreSQL's text cannot hold it: the projection would stop for good
        {"name": "lone \ud800"},  # nor this: it is not UTF-8
        {"tiers": []},
        {"tiers": ["A", "A"]},
        {"sale_opens": CLOSES, "sale_closes": OPENS},
        {"sale_opens": datetime(2026, 12, 1, 10)},  # no time zone
    ],
)
def test_an_event_with_bad_terms_is_refused(terms):
    with pytest.raises(InvalidShowError):
        Show.open(**{"code": "nye", "name": "NYE", "tiers": ["NYE_GA"], **terms})
