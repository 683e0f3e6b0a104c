"""Metrics, JSON logs with request ids, and readiness that knows about projection lag."""

from __future__ import annotations

import json
import logging

import pytest

from tests.e2e.conftest import book
from web import create_app
from web.http.logs import JsonFormatter


def metric(client, line_start: str) -> float:
    """The value of one sample (0 if it has not been counted yet in this process)."""
    text = client.get("/metrics").get_data(as_text=True)
    lines = [line for line in text.splitlines() if line.startswith(line_start)]
    return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0


def test_metrics_count_requests_bookings_tickets_and_the_projection_lag(client):
    before = metric(client, 'ledger_tickets_sold_total{tier="GA"}')  # counters are per process
    book(client, tier="GA", quantity=3)
    book(client, tier="GA", quantity=2)
    assert metric(client, 'ledger_tickets_sold_total{tier="GA"}') == before + 5
    assert metric(client, 'http_requests_total{method="POST",route="/api/tickets/book",status="201"}') >= 2
    assert metric(client, "projection_lag_events ") == 0
    assert "ledger_batch_size_bucket" in client.get("/metrics").get_data(as_text=True)


def test_a_hold_counts_as_sold_only_once_confirmed(client):
    def counts():
        return [
            metric(client, name)
            for name in (
                'ledger_tickets_sold_total{tier="GA"}',
                'ledger_holds_total{tier="GA"}',
                'ledger_holds_ended_total{reason="released",tier="GA"}',
            )
        ]

    before = counts()
    body = {"userId": "u1", "tier": "GA", "quantity": 2}
    kept, dropped = (client.post("/api/tickets/hold", json=body).json["holdId"] for _ in range(2))
    client.post(f"/api/holds/{kept}/confirm", json={"userId": "u1"})
    client.post(f"/api/holds/{dropped}/release", json={"userId": "u1"})
    assert [after - was for after, was in zip(counts(), before, strict=True)] == [2, 2, 1]


@pytest.mark.parametrize("path", ["/api/tickets", "/api/tiers/VIP"])
def test_each_answer_carries_the_request_id_given_if_sane_else_one_of_ours(client, path):
    given = client.get(path, headers={"X-Request-ID": "abc-123"})
    made = client.get(path, headers={"X-Request-ID": "not a sane id"})
    assert given.headers["X-Request-ID"] == "abc-123"
    assert len(made.headers["X-Request-ID"]) == 32  # replaced by one of ours


def test_each_request_logs_one_json_line_with_its_request_id_but_the_tier_lists_copies(client, caplog):
    """The tier list answered from the process's copy is counted in the metrics, not
    logged line by line (web/http/tier_list_answer.py)."""
    caplog.set_level(logging.INFO, logger="ledger")
    client.get("/api/tickets", headers={"X-Request-ID": "the-list"})
    client.get("/api/tiers/VIP", headers={"X-Request-ID": "abc-123"})
    booked = book(client)
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "ledger"]
    access = [line for line in lines if line["message"] == "request"]
    assert [(line["request_id"], line["status"], line["path"]) for line in access] == [
        ("abc-123", 200, "/api/tiers/VIP")
    ]
    assert "duration_ms" in access[0]
    (booking_line,) = [line for line in lines if line["message"] == "booked"]
    assert booking_line["booking_id"] == booked.json["bookingId"] and booking_line["quantity"] == 1
    assert (booking_line["request_id"], booking_line["status"]) == (booked.headers["X-Request-ID"], 201)


def test_ready_turns_503_when_the_read_tables_lag_too_far(store_env):
    app = create_app(
        {"LEDGER_ENV": store_env, "DEMO_TIERS": "VIP:1.00:5", "PROJECT_IN_PROCESS": "no", "READY_MAX_LAG_SECONDS": 0.0}
    )
    client = app.test_client()
    lagging = client.get("/ready")  # the demo tier was never projected
    assert (lagging.status_code, lagging.json["error"]["code"]) == (503, "PROJECTION_LAGGING")
    assert lagging.headers["Retry-After"] == "1"  # as every 503 says (documented)
    app.extensions["services"].projector.catch_up()
    assert client.get("/ready").json["projectionLag"] == 0
    app.extensions["services"].close()
