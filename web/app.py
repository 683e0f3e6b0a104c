"""The Flask app: its settings, its blueprints, the HTTP plumbing around them, and the
services made once per process (``web/services.py``)."""

from __future__ import annotations

from typing import Any

from flask import Flask, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from web import pages
from web.api import feed
from web.api.admin import bookings as staff_bookings
from web.api.admin import dashboard, devices, organizers, staff, webhooks
from web.api.admin import tiers as admin_tiers
from web.api.door import booking_tickets, checkin
from web.api.operations import health
from web.api.operations import metrics as metrics_endpoint
from web.api.payments import admin as payments_admin
from web.api.payments import buyer as payment
from web.api.payments import cards as card_payments
from web.api.sale import bookings, events, holds, orders, tier_list, tiers, waiting_list
from web.api.waiting_room import admin as waiting_room_admin
from web.api.waiting_room import queue
from web.http import arrival, limits, logs, metrics, protection, proxies, request_body
from web.http.errors import register_error_handlers
from web.http.queue_answer import QueueJoinAnswer
from web.http.tier_list_answer import TierListAnswer
from web.identity import users
from web.identity.tokens import require_admin_token
from web.openapi.apidoc import Api
from web.services import init_services
from web.settings import from_environment

# The API's blueprints, in the document's order.
API = (
    tier_list.blp,
    orders.blp,
    events.blp,
    events.admin_blp,
    holds.blp,
    waiting_list.blp,
    bookings.blp,
    booking_tickets.blp,
    checkin.blp,
    tiers.blp,
    admin_tiers.blp,
    webhooks.blp,
    feed.blp,
    dashboard.blp,
    health.blp,
    metrics_endpoint.blp,
    queue.blp,
    waiting_room_admin.blp,
    payment.blp,
    payments_admin.blp,
    staff.blp,  # staff accounts (issue 34)
    organizers.blp,
    devices.blp,  # door devices (issue 34)
    staff_bookings.blp,  # bookings cancelled by staff (issue 34)
)


def build_app(config: dict[str, Any] | None = None) -> Flask:
    """``web.create_app``: the app, its blueprints, its plumbing and its services."""
    app = Flask("web")  # the package's name: its static/ and templates/ are the app's
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
    for blueprint in API:
        api.register_blueprint(blueprint)
    if app.config["STRIPE_SECRET_KEY"]:  # card payments (docs/payments.md); without a key nothing changes
        api.register_blueprint(card_payments.blp)
    app.register_blueprint(pages.blp)  # HTML pages, not part of the API document
    register_error_handlers(app)
    arrival.install(app)
    logs.install(app)
    request_body.install(app)
    protection.install(app)
    limits.install(
        app,
        sales=(tier_list.blp, holds.blp, orders.blp, waiting_list.blp),
        admin=[b for b in API if require_admin_token in b.before_request_funcs.get(None, [])],
    )
    proxies.install(app)
    services = init_services(app)
    services.ledger.observer = metrics.PrometheusObserver()
    metrics.install(app)
    app.wsgi_app = TierListAnswer(  # type: ignore[method-assign]
        app.wsgi_app, services.board, services.tier_news, app.config
    )
    app.wsgi_app = QueueJoinAnswer(app.wsgi_app, app, queue.PlaceSchema())  # type: ignore[method-assign]
    return app
