from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from application import BookingLedger
from projections import Follower, open_view

ROOT = Path(__file__).resolve().parents[2]


def test_the_rebuild_script_replays_every_event_and_says_how_many(store_env):
    with BookingLedger(env=store_env) as ledger:
        ledger.create_tier("VIP", Decimal("1.00"), 10)
        for n in range(4):
            ledger.book(f"u{n}", "VIP", 2)
        view = open_view(ledger)
        Follower(ledger, view).catch_up()
        live = view.list_tiers(), view.all_bookings()
        result = subprocess.run(
            [sys.executable, "scripts/rebuild_projections"], cwd=ROOT, env={**os.environ, **store_env},
            capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert "applied 9 events" in result.stdout
        assert (view.list_tiers(), view.all_bookings()) == live
