"""``/api/admin``: create tiers, add capacity, close sales, read a tier's full history
(with the booking and user of each event). Behind a bearer token read
from ``ADMIN_TOKEN``; with no token configured the admin endpoints do not exist (404).
A wrong or missing token gets 401 and no hint; tokens are compared in constant time."""

from __future__ import annotations

import hmac
from typing import Any

from flask import current_app, request
from flask.views import MethodView
from marshmallow import fields, validate
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import NotFound, Unauthorized

from web.api.sale.tiers import (
    HISTORY,
    HISTORY_ERRORS,
    HistoryQuerySchema,
    HistorySchema,
    history_page,
)
from web.openapi.apidoc import ADMIN, ADMIN_SECURITY, COMMAND, JSON_BODY, Blueprint
from web.schemas.fields import CamelCaseSchema, Money, ResponseSchema
from web.services import services

blp = Blueprint("admin", __name__, url_prefix="/api/admin", description="Sale administration (bearer token)")


@blp.before_request
def require_admin_token() -> None:
    """A CORS preflight (``OPTIONS``) never carries credentials: it is answered without
    them (by Flask, with the CORS headers of ``web/http/protection.py``)."""
    if not current_app.config["ADMIN_TOKEN"]:
        raise NotFound()
    if request.method != "OPTIONS" and not has_admin_token():
        raise Unauthorized("Authentication required.", www_authenticate=WWWAuthenticate("bearer"))


def require_bearer(tokens: list[str]) -> None:
    """401 unless the request's bearer token is one of ``tokens`` (each compared, always, in
    constant time, so the answer's time says nothing of which came close)."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    matches = [hmac.compare_digest(given.encode(), token.encode()) for token in tokens]
    if scheme.lower() != "bearer" or not any(matches):
        raise Unauthorized("Authentication required.", www_authenticate=WWWAuthenticate("bearer"))


def has_admin_token() -> bool:
    token = current_app.config["ADMIN_TOKEN"]
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


class NewTierSchema(CamelCaseSchema):
    tier = fields.String(required=True, validate=validate.Regexp(r"^[A-Z][A-Z0-9_]{0,31}$"))
    price = Money(required=True)
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10_000_000))
    per_user_limit = fields.Integer(strict=True, load_default=None, validate=validate.Range(min=1))


class QuantitySchema(CamelCaseSchema):
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10_000_000))


class AdminTierSchema(ResponseSchema):
    tier = fields.String(attribute="code")
    price = Money()
    capacity = fields.Integer()
    sold = fields.Integer()
    available_quantity = fields.Integer(attribute="available")
    version = fields.Integer()
    on_sale = fields.Boolean()
    per_user_limit = fields.Integer(allow_none=True)


TIER = {
    "tier": "VIP",
    "price": "100.00",
    "capacity": 100,
    "sold": 2,
    "availableQuantity": 98,
    "version": 3,
    "onSale": True,
    "perUserLimit": 4,
}


@blp.route("/tiers")
class NewTier(MethodView):
    @blp.arguments(
        NewTierSchema(),
        error_status_code=400,
        example={"tier": "VIP", "price": "100.00", "capacity": 100, "perUserLimit": 4},
    )
    @blp.response(201, AdminTierSchema(), example={**TIER, "sold": 0, "availableQuantity": 100, "version": 1})
    @blp.errors(*ADMIN, *JSON_BODY, *COMMAND, "TIER_ALREADY_EXISTS")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, new: dict[str, Any]) -> Any:
        """Create a tier (409 ``TIER_ALREADY_EXISTS`` if the code is taken)."""
        return services().ledger.create_tier(new["tier"], new["price"], new["capacity"], new["per_user_limit"])


@blp.route("/tiers/<tier>/capacity")
class Capacity(MethodView):
    @blp.arguments(QuantitySchema(), error_status_code=400, example={"quantity": 50})
    @blp.response(200, AdminTierSchema(), example={**TIER, "capacity": 150, "availableQuantity": 148, "version": 4})
    @blp.errors(*ADMIN, *JSON_BODY, *COMMAND, "TICKET_NOT_FOUND")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, body: dict[str, Any], tier: str) -> Any:
        """Put more tickets of a tier on sale."""
        return services().ledger.add_capacity(tier, body["quantity"])


@blp.route("/tiers/<tier>/close")
class CloseSales(MethodView):
    @blp.response(200, AdminTierSchema(), example={**TIER, "onSale": False, "version": 4})
    @blp.errors(*ADMIN, "UNSUPPORTED_MEDIA_TYPE", *COMMAND, "TICKET_NOT_FOUND")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, tier: str) -> Any:
        """Stop selling a tier; cancellations still put tickets back."""
        return services().ledger.close_sales(tier)


@blp.route("/tiers/<tier>/history")
class FullHistory(MethodView):
    @blp.arguments(HistoryQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, HistorySchema(), example=HISTORY)
    @blp.errors(*ADMIN, *HISTORY_ERRORS)
    @blp.doc(security=ADMIN_SECURITY)
    def get(self, query: dict[str, Any], tier: str) -> Any:
        """The tier's events after version ``after``, with the booking and user each concerns."""
        return history_page(tier, query)
