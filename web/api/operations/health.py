"""``/health`` (the process is up) and ``/ready`` (the event store answers)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from marshmallow import fields

from application.persistence.storage import probe_store
from web.http.errors import error_response
from web.openapi.apidoc import Blueprint
from web.schemas.fields import ResponseSchema
from web.services import services

blp = Blueprint("health", __name__, description="Liveness and readiness")
# Seconds /ready lets PostgreSQL take to answer its probe: what a load balancer polls
# must answer before the balancer's own timeout (it then waits at most this plus
# POSTGRES_CONNECT_TIMEOUT for a pooled connection).
PROBE_TIMEOUT = 1.0


class HealthSchema(ResponseSchema):
    status = fields.String(metadata={"enum": ["ok"]})


class ReadySchema(ResponseSchema):
    status = fields.String(metadata={"enum": ["ready"]})
    projectionLag = fields.Integer(metadata={"description": "events recorded but not yet in the read tables"})
    projectionLagSeconds = fields.Float(metadata={"description": "age of the oldest of them"})


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema(), example={"status": "ok"})
    def get(self) -> Any:
        """The process is up."""
        return {"status": "ok"}


@blp.route("/ready")
class Ready(MethodView):
    @blp.response(200, ReadySchema(), example={"status": "ready", "projectionLag": 0, "projectionLagSeconds": 0.0})
    @blp.errors("PROJECTION_LAGGING", "STORE_UNAVAILABLE")
    def get(self) -> Any:
        """The event store answers and the read tables are at most
        ``READY_MAX_LAG_SECONDS`` behind it (503 otherwise)."""
        probe_store(services().ledger.factory, PROBE_TIMEOUT)
        projector = services().projector
        lag, seconds = projector.lag(), round(projector.lag_seconds(), 3)
        limit = current_app.config["READY_MAX_LAG_SECONDS"]
        if seconds > limit:
            return error_response(
                503,
                "PROJECTION_LAGGING",
                f"The read tables are {seconds} s behind (limit {limit} s).",
                [{"path": "projectionLagSeconds", "message": str(seconds)}],
            )
        return {"status": "ready", "projectionLag": lag, "projectionLagSeconds": seconds}
