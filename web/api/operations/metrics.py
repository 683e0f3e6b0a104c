"""``/metrics``: the Prometheus counters (``web/http/metrics.py``) summed over the workers, and
what is read when scraped: the projection lag from the store
(``projections/read_model/lag_metrics.py``) and the waiting room's queue from its store.
Each is left out while its store does not answer, so the counters are still scraped then."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Response
from flask.views import MethodView
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from redis.exceptions import RedisError

from application.waiting_room.rooms import WaitingRoomService
from projections import Projector
from projections.read_model.lag_metrics import lag_registry
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
    def get(self) -> Response:
        """The request, booking, conflict and batch counters, plus the projection lag now."""
        return Response(scrape(services().projector, services().rooms), content_type=CONTENT_TYPE_LATEST)


def scrape(projector: Projector, rooms: WaitingRoomService) -> bytes:
    queue = CollectorRegistry(auto_describe=False)
    queue.register(WaitingRoomQueue(rooms))
    return generate_latest(counted()) + generate_latest(lag_registry(projector)) + generate_latest(queue)


class WaitingRoomQueue:
    """While a room is on: how many wait to be admitted, and how many it admits a second
    (the alert on a backlog divides one by the other)."""

    def __init__(self, rooms: WaitingRoomService) -> None:
        self.rooms = rooms

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            status = self.rooms.status()
        except RedisError:
            return
        if status is not None:
            waiting, rate = status.waiting, status.rate
            yield GaugeMetricFamily("waiting_room_waiting", "Buyers in the queue not yet admitted", value=waiting)
            yield GaugeMetricFamily("waiting_room_admission_rate", "Places the room admits a second", value=rate)
