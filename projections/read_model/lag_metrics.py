"""The projection lag as Prometheus reads it, measured from the store when scraped: served
by the web hosts' ``/metrics`` (``web/api/operations/metrics.py``) and by the projection
process's own (``METRICS_BIND``, ``projections/__main__.py``).

A collector, not a ``Gauge``: under gunicorn a ``Gauge`` writes to the workers' metrics
folder and would appear twice. While the store does not answer the lag is left out rather
than failing the scrape: the request counters beside it (the 5xx a failover causes) are
what the alerts need most then, and the process itself is up.
"""

from __future__ import annotations

from collections.abc import Iterator

from eventsourcing.persistence import InterfaceError, OperationalError
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily

from projections.read_model.projector import Projector


def lag_registry(projector: Projector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProjectionLag(projector))
    return registry


class ProjectionLag:
    """The projection lag, read from the store when scraped."""

    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            events, seconds = self.projector.lag(), self.projector.lag_seconds()
        except (OperationalError, InterfaceError):
            return
        yield GaugeMetricFamily("projection_lag_events", "Events recorded but not yet in the read tables", value=events)
        yield GaugeMetricFamily(
            "projection_lag_seconds", "Age of the oldest event not yet in the read tables", value=seconds
        )
