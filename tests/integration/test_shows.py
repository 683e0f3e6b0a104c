"""Events (shows) against a real store: created with their tiers all at once or not at all,
their tiers refused outside the window by the ledger's clock, and the read tables' lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from application import TierAlreadyExistsError
from application.booking.tiers import NewShow, NewTier
from application.errors import ShowAlreadyExistsError
from domain.errors import SalesClosedError, SalesNotOpenError
from domain.shows import show_id
from domain.tiers import tier_id
from projections import Projector, open_view
from projections.read_model.rebuild import differences

OPENS = datetime(2026, 12, 1, 10, tzinfo=UTC)
CLOSES = datetime(2026, 12, 31, 20, tzinfo=UTC)
NYE = NewShow(
    "nye",
    "New Year's Eve",
    [NewTier("NYE_VIP", Decimal("150.00"), 5), NewTier("NYE_GA", Decimal("40.00"), 10, 4)],
    CLOSES,
    OPENS,
    CLOSES,
)


def test_an_event_and_its_tiers_are_recorded_together_or_not_at_all(ledger):
    ledger.create_tier("VIP", Decimal("100.00"), 10)
    taken = NewShow("other", "Other", [NewTier("FRESH", Decimal("1.00"), 1), NewTier("VIP", Decimal("1.00"), 1)])
    with pytest.raises(TierAlreadyExistsError):
        ledger.create_show(taken)
    assert show_id("other") not in ledger.repository and tier_id("FRESH") not in ledger.repository
    show = ledger.create_show(NYE)
    assert (show.tiers, ledger.get_tier("NYE_GA").per_user_limit) == (["NYE_VIP", "NYE_GA"], 4)
    with pytest.raises(ShowAlreadyExistsError):
        ledger.create_show(NewShow("nye", "Again", [NewTier("NYE_X", Decimal("1.00"), 1)]))
    assert tier_id("NYE_X") not in ledger.repository


def test_the_ledger_refuses_an_events_tiers_outside_its_window(ledger):
    ledger.create_show(NYE)
    ledger.clock = lambda: OPENS - timedelta(seconds=1)
    with pytest.raises(SalesNotOpenError):
        ledger.book("ann", "NYE_GA", 1)
    with pytest.raises(SalesNotOpenError):
        ledger.order("ann", [("NYE_VIP", 1), ("NYE_GA", 1)])
    ledger.clock = lambda: OPENS
    assert ledger.order("ann", [("NYE_VIP", 1), ("NYE_GA", 1)]).items[1].remaining == 9
    ledger.clock = lambda: CLOSES
    with pytest.raises(SalesClosedError):
        ledger.hold("ann", "NYE_VIP", 1)
    assert (ledger.get_tier("NYE_VIP").sold, ledger.get_tier("NYE_GA").sold) == (1, 1)


def test_the_read_tables_list_the_events_and_keep_the_default_list_as_it_was(ledger):
    ledger.create_tier("VIP", Decimal("100.00"), 10)
    view = open_view(ledger)
    projector = Projector(ledger, view)
    projector.catch_up()
    before = view.list_tiers()
    ledger.create_show(NYE)
    projector.catch_up()
    assert view.list_tiers() == before  # GET /api/tickets: the default event's, as before
    assert [s.code for s in view.list_shows()] == ["nye"]
    assert (view.list_shows()[0].sale_opens, view.list_shows()[0].name) == (OPENS, "New Year's Eve")
    assert [t.tier for t in view.tiers_of_show("nye")] == ["NYE_GA", "NYE_VIP"]
    assert [t.tier for t in view.list_all_tiers()] == ["NYE_GA", "NYE_VIP", "VIP"]
    assert differences(ledger) == []
