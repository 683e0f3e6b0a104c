"""The real server: gunicorn workers starting together against one PostgreSQL."""

from __future__ import annotations

import pytest

from application import BookingLedger
from scripts.harness.processes import call, gunicorn, scrape


@pytest.mark.postgres
@pytest.mark.slow
def test_eight_workers_start_together_and_create_each_demo_tier_once(postgres_env, tmp_path):
    env = {
        **postgres_env,
        "GUNICORN_WORKERS": "8",
        "PROJECT_IN_PROCESS": "yes",
        "DEMO_TIERS": "VIP:100.00:100,GA:10.00:1000",
        "BOOKING_RATE_LIMIT": "",
    }
    log = open(tmp_path / "gunicorn.log", "w+")
    with gunicorn(env, log) as (base, _):
        statuses = [
            call(f"{base}/api/tickets/book", {"userId": f"u{n}", "tier": "VIP", "quantity": 1}).status
            for n in range(16)
        ]
        status, tiers, _ = call(f"{base}/api/tickets")
        scrapes = [scrape(f"{base}/metrics") for _ in range(8)]  # answered by various workers
    log.seek(0)
    output = log.read()
    assert "Traceback" not in output and "Worker failed" not in output, output
    assert statuses == [201] * 16
    assert (status, [(t["tier"], t["availableQuantity"]) for t in tiers]) == (200, [("GA", 1000), ("VIP", 84)])
    with BookingLedger(env=postgres_env) as ledger:
        created = [n for n in ledger.recorder.select_notifications(1, 1000) if n.topic.endswith("TicketTier.Created")]
    assert len(created) == 2
    assert all('ledger_bookings_total{tier="VIP"} 16.0' in text for text in scrapes)
