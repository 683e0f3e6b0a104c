"""The HTTP API: ``create_app`` builds the Flask app, its ledger and its read tables."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api

from web import admin, bookings, health, limits, logs, metrics, protection, tickets, tiers
from web.errors import register_error_handlers
from web.services import init_services
from web.settings import from_environment


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; ``config`` overrides settings read from the environment."""
    app = Flask(__name__)
    app.config.update(from_environment())
    app.config.update(
        API_TITLE="Ticket booking ledger",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
    )
    app.config.update(config or {})
    api = Api(app)
    for blueprint in (tickets.blp, bookings.blp, tiers.blp, admin.blp, health.blp):
        api.register_blueprint(blueprint)
    register_error_handlers(app)
    logs.install(app)
    protection.install(app)
    limits.install(app)
    metrics.install(app, init_services(app))
    return app
