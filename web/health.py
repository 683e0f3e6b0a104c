"""``/health`` (the process is up) and ``/ready`` (the event store answers)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from web.services import services

blp = Blueprint("health", __name__, description="Liveness and readiness")


@blp.route("/health")
class Health(MethodView):
    def get(self) -> Any:
        """The process is up."""
        return {"status": "ok"}


@blp.route("/ready")
class Ready(MethodView):
    def get(self) -> Any:
        """The event store answers; also reports how far the read tables lag behind it."""
        follower = services().follower
        return {"status": "ready", "projectionLag": follower.lag()}
