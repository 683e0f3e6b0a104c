"""Prometheus metrics at ``/metrics``.

Under gunicorn every worker counts into files in ``PROMETHEUS_MULTIPROC_DIR`` (set up by
``web/server/gunicorn_settings.py``) and a scrape sums them, so the numbers are right whichever worker
answers. Without that variable (tests, ``flask run``) the process's own registry is used.
The projection lag is measured at scrape time from the store, by a collector that
writes nothing to that folder (a ``Gauge`` would, and then appear twice).

Every label takes values from a known set, so no request can add series: routes are the
app's URL rules (``unmatched`` for any other path), methods the standard ones
(``other`` for any other), tiers those created by an admin.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from flask import Flask, Response, g, request
from flask.views import MethodView
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from application.booking.observer import LedgerObserver
from web.openapi.apidoc import Blueprint
from web.services import Services, services

blp = Blueprint("metrics", __name__, description="Prometheus metrics")

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


def install(app: Flask, ledger_services: Services) -> None:
    ledger_services.ledger.observer = PrometheusObserver()

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


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.response(
        200,
        content_type="text/plain",
        description="Prometheus text format",
        example="# TYPE projection_lag_events gauge\nprojection_lag_events 0.0\n",
    )
    @blp.errors("STORE_UNAVAILABLE")
    def get(self) -> Response:
        """The request, booking, conflict and batch counters, plus the projection lag now."""
        return Response(scrape(services()), content_type=CONTENT_TYPE_LATEST)


def scrape(services: Services) -> bytes:
    return generate_latest(counted()) + generate_latest(lag_registry(services))


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


def lag_registry(services: Services) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProjectionLag(services))
    return registry


class ProjectionLag:
    """The projection lag, read from the store when scraped."""

    def __init__(self, services: Services) -> None:
        self.projector = services.projector

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "projection_lag_events", "Events recorded but not yet in the read tables", value=self.projector.lag()
        )
        yield GaugeMetricFamily(
            "projection_lag_seconds",
            "Age of the oldest event not yet in the read tables",
            value=self.projector.lag_seconds(),
        )
