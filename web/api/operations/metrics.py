"""``/metrics``: the Prometheus counters (``web/http/metrics.py``) summed over the workers, and
the projection lag, measured at scrape time from the store by a collector that writes
nothing to the workers' metrics folder (a ``Gauge`` would, and then appear twice)."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Response
from flask.views import MethodView
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from projections import Projector
from web.http.metrics import counted
from web.openapi.apidoc import Blueprint
from web.services import services

blp = Blueprint("metrics", __name__, description="Prometheus metrics")


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
        return Response(scrape(services().projector), content_type=CONTENT_TYPE_LATEST)


def scrape(projector: Projector) -> bytes:
    return generate_latest(counted()) + generate_latest(lag_registry(projector))


def lag_registry(projector: Projector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProjectionLag(projector))
    return registry


class ProjectionLag:
    """The projection lag, read from the store when scraped."""

    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "projection_lag_events", "Events recorded but not yet in the read tables", value=self.projector.lag()
        )
        yield GaugeMetricFamily(
            "projection_lag_seconds",
            "Age of the oldest event not yet in the read tables",
            value=self.projector.lag_seconds(),
        )
