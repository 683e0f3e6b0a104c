"""Prometheus metrics: what every request, booking, conflict and batch counts (served at
``/metrics`` by ``web/api/operations/metrics.py``).

Under gunicorn every worker counts into files in ``PROMETHEUS_MULTIPROC_DIR`` (set up by
``web/server/gunicorn_settings.py``) and a scrape sums them, so the numbers are right whichever worker
answers. Without that variable (tests, ``flask run``) the process's own registry is used.
Every label takes values from a known set, so no request can add series: routes are the
app's URL rules (``unmatched`` for any other path), methods the standard ones
(``other`` for any other), tiers those created by an admin.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess

from application.booking.observer import LedgerObserver

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter("http_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BOOKINGS = Counter("ledger_bookings_total", "Bookings recorded", ["tier"])
TICKETS = Counter("ledger_tickets_sold_total", "Tickets sold by bookings recorded", ["tier"])
HOLDS = Counter("ledger_holds_total", "Holds recorded", ["tier"])
HOLDS_ENDED = Counter("ledger_holds_ended_total", "Holds that ended without a sale", ["tier", "reason"])
CONFLICTS = Counter("ledger_conflicts_total", "Optimistic-concurrency conflicts (each is retried)")
BATCHES = Histogram(
    "ledger_batch_size", "Booking requests per group-commit batch", buckets=(1, 2, 5, 10, 20, 50, 100, 200)
)


class PrometheusObserver(LedgerObserver):
    def conflict(self) -> None:
        CONFLICTS.inc()

    def batch(self, size: int) -> None:
        BATCHES.observe(size)

    def booked(self, tier: str, quantity: int) -> None:
        BOOKINGS.labels(tier).inc()
        TICKETS.labels(tier).inc(quantity)

    def held(self, tier: str, quantity: int) -> None:
        HOLDS.labels(tier).inc()

    def hold_ended(self, tier: str, reason: str) -> None:
        HOLDS_ENDED.labels(tier, reason).inc()


def install(app: Flask) -> None:
    """Count every request the app answers, by route, method and status, and time it."""

    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def count(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        method = request.method if request.method in KNOWN_METHODS else "other"
        REQUESTS.labels(route, method, str(response.status_code)).inc()
        LATENCY.labels(route, method).observe(time.perf_counter() - g.get("started", time.perf_counter()))
        return response


def counted() -> CollectorRegistry:
    """What every worker counted: their files summed under gunicorn, else this process's own."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


# The dashboard's names for the ledger's counters (web/api/admin/dashboard.py), summed over labels.
TOTALS = {
    "ledger_bookings_total": "bookings",
    "ledger_tickets_sold_total": "tickets_sold",
    "ledger_holds_total": "holds",
    "ledger_conflicts_total": "conflicts",
    "ledger_batch_size_count": "batches",
    "ledger_batch_size_sum": "batched_requests",
}


def counter_totals() -> dict[str, int]:
    totals = dict.fromkeys(TOTALS.values(), 0)
    for family in counted().collect():
        for sample in family.samples:
            if sample.name in TOTALS:
                totals[TOTALS[sample.name]] += int(sample.value)
    return totals
