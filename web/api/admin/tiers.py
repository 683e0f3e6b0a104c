"""``/api/admin``: create tiers, add capacity, change a price, close sales, read a tier's
full history (with the booking and user of each event). Behind the admin's bearer token
(``web/identity/tokens.py``)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import RAISE, fields, validate

from application.audit.tier_audit import TierAudit
from web.identity.staff import actor
from web.identity.tokens import require_admin_token
from web.openapi.apidoc import ADMIN, ADMIN_SECURITY, COMMAND, JSON_BODY, Blueprint
from web.schemas.fields import CamelCaseSchema, Money, ResponseSchema
from web.schemas.tiers import HISTORY, REPLAY_ERRORS, HistoryQuerySchema, HistorySchema, NewTierSchema, history_page
from web.services import services

blp = Blueprint("admin", __name__, url_prefix="/api/admin", description="Sale administration (bearer token)")
blp.before_request(require_admin_token)


class QuantitySchema(CamelCaseSchema):
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10_000_000))


class PriceSchema(CamelCaseSchema):
    price = Money(required=True)


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
    # A conflict here is a tier made meanwhile (409), never a busy ledger: creating is not retried.
    @blp.errors(*ADMIN, "FORBIDDEN", *JSON_BODY, "STORE_UNAVAILABLE", "TIER_ALREADY_EXISTS")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, new: dict[str, Any]) -> Any:
        """Create a tier (409 ``TIER_ALREADY_EXISTS`` if the code is taken)."""
        ledger = services().ledger
        return ledger.create_tier(new["tier"], new["price"], new["capacity"], new["per_user_limit"], actor())


@blp.route("/tiers/<tier>/capacity")
class Capacity(MethodView):
    @blp.arguments(QuantitySchema(), error_status_code=400, example={"quantity": 50})
    @blp.response(200, AdminTierSchema(), example={**TIER, "capacity": 150, "availableQuantity": 148, "version": 4})
    @blp.errors(*ADMIN, "FORBIDDEN", *JSON_BODY, *COMMAND, "TICKET_NOT_FOUND")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, body: dict[str, Any], tier: str) -> Any:
        """Put more tickets of a tier on sale."""
        return services().ledger.add_capacity(tier, body["quantity"], actor())


@blp.route("/tiers/<tier>/price")
class Price(MethodView):
    @blp.arguments(PriceSchema(), error_status_code=400, example={"price": "80.00"})
    @blp.response(200, AdminTierSchema(), example={**TIER, "price": "80.00", "version": 4})
    @blp.errors(
        *ADMIN, "FORBIDDEN", *JSON_BODY, *COMMAND, "TICKET_NOT_FOUND", "SALES_CLOSED", "PRICE_CHANGE_REFUSED",
        "INVALID_PAYMENT",
    )  # fmt: skip
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, body: dict[str, Any], tier: str) -> Any:
        """Sell a tier at a new price from now on; what was sold or held keeps its price. The
        same price again changes nothing (200), so a retry is safe; 409 ``SALES_CLOSED`` once
        its sales are closed, ``PRICE_CHANGE_REFUSED`` between free and priced; 422
        ``INVALID_PAYMENT`` for a paid tier's price that is not whole minor units of its currency."""
        return services().ledger.change_price(tier, body["price"], actor())


@blp.route("/tiers/<tier>/close")
class CloseSales(MethodView):
    @blp.response(200, AdminTierSchema(), example={**TIER, "onSale": False, "version": 4})
    @blp.errors(*ADMIN, "FORBIDDEN", "UNSUPPORTED_MEDIA_TYPE", *COMMAND, "TICKET_NOT_FOUND")
    @blp.doc(security=ADMIN_SECURITY)
    def post(self, tier: str) -> Any:
        """Stop selling a tier; cancellations still put tickets back."""
        return services().ledger.close_sales(tier, actor())


@blp.route("/tiers/<tier>/history")
class FullHistory(MethodView):
    # Unknown query parameters are refused (400), as the document says; the public history
    # keeps ignoring them (browsers' cache-busters).
    @blp.arguments(HistoryQuerySchema(), location="query", error_status_code=400, unknown=RAISE)
    @blp.response(200, HistorySchema(), example=HISTORY)
    @blp.errors(*ADMIN, "FORBIDDEN", *REPLAY_ERRORS)
    @blp.doc(security=ADMIN_SECURITY)
    def get(self, query: dict[str, Any], tier: str) -> Any:
        """The tier's events after version ``after``, with the booking and user each concerns."""
        return history_page(TierAudit(services().ledger), tier, query)
