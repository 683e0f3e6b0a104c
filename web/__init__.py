"""The HTTP API and its web page: ``create_app`` builds the Flask app, its ledger and its read tables."""

from __future__ import annotations

from typing import Any

from flask import Flask, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from web import (
    admin,
    booking_tickets,
    bookings,
    checkin,
    dashboard,
    events,
    feed,
    health,
    holds,
    limits,
    logs,
    metrics,
    orders,
    page,
    protection,
    proxies,
    queue,
    queue_admin,
    request_body,
    tickets,
    tiers,
    users,
    webhooks_admin,
)
from web.apidoc import Api
from web.errors import register_error_handlers
from web.services import init_services
from web.settings import from_environment
from web.tier_list_answer import TierListAnswer


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
        # Swagger UI at /docs, its files served from the swagger-ui-bundle package
        # (no CDN: the service must document itself offline too).
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",
    )
    app.config.update(config or {})
    users.install(app)
    api = Api(app)
    app.add_url_rule(
        "/docs/assets/<path:filename>", "docs_assets", lambda filename: send_from_directory(swagger_ui_path, filename)
    )
    for blueprint in (
        tickets.blp,
        orders.blp,
        events.blp,
        events.admin_blp,
        holds.blp,
        bookings.blp,
        booking_tickets.blp,
        checkin.blp,
        tiers.blp,
        admin.blp,
        webhooks_admin.blp,
        feed.blp,
        dashboard.blp,
        health.blp,
        metrics.blp,
    ):
        api.register_blueprint(blueprint)
    api.register_blueprint(queue.blp)
    api.register_blueprint(queue_admin.blp)
    app.register_blueprint(page.blp)  # HTML pages, not part of the API document
    register_error_handlers(app)
    logs.install(app)
    request_body.install(app)
    protection.install(app)
    limits.install(app)
    proxies.install(app)
    services = init_services(app)
    metrics.install(app, services)
    queue.install(app)
    app.wsgi_app = TierListAnswer(app.wsgi_app, services.board)  # type: ignore[method-assign]
    return app
