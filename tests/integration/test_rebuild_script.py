from __future__ import annotations

import json
from decimal import Decimal

from application import BookingLedger
from projections import Projector, open_view
from tests.cli import ticketledger


def test_the_rebuild_script_replays_every_event_and_says_how_many(store_env):
    with BookingLedger(env=store_env) as ledger:
        ledger.create_tier("VIP", Decimal("1.00"), 10)
        for n in range(4):
            ledger.book(f"u{n}", "VIP", 2)
        view = open_view(ledger)
        Projector(ledger, view).catch_up()
        live = view.list_tiers(), view.all_bookings()
        result = ticketledger("rebuild", env=store_env)
        assert result.returncode == 0, result.stderr
        assert "applied 9 events" in result.stdout
        assert (view.list_tiers(), view.all_bookings()) == live


def test_projection_status_reports_the_lag_in_events_and_seconds(store_env):
    with BookingLedger(env=store_env) as ledger:
        ledger.create_tier("VIP", Decimal("1.00"), 10)
        view = open_view(ledger)
        Projector(ledger, view).catch_up()
        ledger.book("u1", "VIP", 2)

        def status() -> dict:
            result = ticketledger("status", "--json", env=store_env, timeout=60)
            assert result.returncode == 0, result.stderr
            return json.loads(result.stdout)

        behind = status()
        assert (behind["position"], behind["head"], behind["lag_events"]) == (1, 3, 2) and behind["lag_seconds"] > 0
        Projector(ledger, view).catch_up()
        assert {k: status()[k] for k in ("lag_events", "lag_seconds")} == {"lag_events": 0, "lag_seconds": 0.0}
