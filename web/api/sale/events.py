"""``/api/events``: the events on sale (concerts, dates), each with its tiers and sale window;
``/api/admin/events`` creates one with its tiers (admin token). The default event, ``main``,
holds every tier that belongs to no other (the demo's, the admin's ``POST /api/admin/tiers``):
``GET /api/tickets`` and ``POST /api/tickets/book`` are its, exactly as before there were others.
Booking any tier works as before; a tier of an event is refused outside that event's window
(409 ``SALES_NOT_OPEN`` before, ``SALES_CLOSED`` after), by the tier itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import current_app, request
from flask.views import MethodView
from marshmallow import fields, validate, validates_schema

from application.booking.tiers import NewShow, NewTier
from application.errors import ShowNotFoundError
from domain.organizers import DEFAULT_ORGANIZER
from domain.payments import CURRENCY_EXPONENTS, PaymentTerms
from domain.shows import DEFAULT_SHOW, SHOW_CODE, Show, check_window, show_id
from domain.waiting_list import MAX_OFFER_SECONDS, MIN_OFFER_SECONDS
from projections.read_model.views import ShowRow, TierAvailability
from web.identity.staff import actor
from web.identity.tokens import require_admin_token
from web.openapi.apidoc import ADMIN, ADMIN_SECURITY, JSON_BODY, Blueprint
from web.schemas.fields import CamelCaseSchema, ResponseSchema, identifier
from web.schemas.payments import PAYMENT_TERMS, PaymentTermsSchema, TermsSchema
from web.schemas.tiers import ListedTierSchema, NewTierSchema
from web.services import services

blp = Blueprint("events", __name__, url_prefix="/api/events", description="Events and their tiers")
admin_blp = Blueprint("events_admin", __name__, url_prefix="/api/admin/events", description="Events (bearer token)")
admin_blp.before_request(require_admin_token)


class EventSchema(ResponseSchema):
    event_id = fields.String(attribute="code", metadata={"description": "`main` is the default event"})
    name = fields.String()
    starts_at = fields.DateTime(format="iso", allow_none=True)
    sale_opens_at = fields.DateTime(attribute="sale_opens", format="iso", allow_none=True)
    sale_closes_at = fields.DateTime(attribute="sale_closes", format="iso", allow_none=True)
    on_sale_now = fields.Boolean(metadata={"description": "inside its window, with a tier on sale and tickets left"})
    capacity = fields.Integer(metadata={"description": "its tiers' capacities added up"})
    available_quantity = fields.Integer(metadata={"description": "its tiers' tickets left, added up"})
    payment = fields.Nested(
        TermsSchema(), allow_none=True, metadata={"description": "its priced tiers sell through a payment; null: free"}
    )


class EventTierSchema(ListedTierSchema):
    """An event's tier: its price is in the event's currency (``USD`` for a free event)."""

    openapi_name = "EventTicket"

    currency = fields.String(metadata={"enum": list(CURRENCY_EXPONENTS)})


class NewEventSchema(CamelCaseSchema):
    event_id = fields.String(required=True, validate=validate.Regexp(f"^{SHOW_CODE.pattern}$"))
    name = identifier(max_length=100)  # printable: the read tables (PostgreSQL text) must hold it
    starts_at = fields.AwareDateTime(load_default=None, format="iso")
    sale_opens_at = fields.AwareDateTime(load_default=None, format="iso")
    sale_closes_at = fields.AwareDateTime(load_default=None, format="iso")
    tiers = fields.List(fields.Nested(NewTierSchema()), required=True, validate=validate.Length(min=1, max=20))
    payment = fields.Nested(PaymentTermsSchema(), metadata={"description": PAYMENT_TERMS})
    waiting_list_offer_seconds = fields.Integer(
        load_default=None,
        validate=validate.Range(MIN_OFFER_SECONDS, MAX_OFFER_SECONDS),
        metadata={
            "description": "how long a waiting-list offer is held for its buyer; default: the time to pay "
            "(a paid event), else a day"
        },
    )

    @validates_schema
    def sound(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("event_id") == DEFAULT_SHOW:
            raise validate.ValidationError(f"{DEFAULT_SHOW!r} is the default event's.", "eventId")
        try:
            check_window(data.get("sale_opens_at"), data.get("sale_closes_at"))
        except ValueError as error:
            raise validate.ValidationError(str(error), "saleClosesAt") from None
        codes = [tier["tier"] for tier in data.get("tiers", [])]
        if len(set(codes)) != len(codes):
            raise validate.ValidationError("Name each tier once.", "tiers")


AT = "2026-12-31T20:00:00+00:00"
EVENT = {
    "eventId": "new-year-2027",
    "name": "New Year's Eve",
    "startsAt": AT,
    "saleOpensAt": "2026-12-01T10:00:00+00:00",
    "saleClosesAt": AT,
    "onSaleNow": True,
    "capacity": 1500,
    "availableQuantity": 1320,
    "payment": {"currency": "EUR", "secondsToPay": 900, "refundPercent": 100},
}
NEW_EVENT = {
    "eventId": "new-year-2027",
    "name": "New Year's Eve",
    "startsAt": AT,
    "saleOpensAt": "2026-12-01T10:00:00+00:00",
    "saleClosesAt": AT,
    "tiers": [
        {"tier": "NYE_VIP", "price": "150.00", "capacity": 500},
        {"tier": "NYE_GA", "price": "40.00", "capacity": 1000},
    ],
}
TIERS = [
    {"tier": "NYE_GA", "price": "40.00", "currency": "EUR", "capacity": 1000, "availableQuantity": 880, "onSale": True}
]


def summary(show: ShowRow, tiers: list[TierAvailability], now: datetime, terms: PaymentTerms | None) -> dict[str, Any]:
    inside = (show.sale_opens is None or show.sale_opens <= now) and (
        show.sale_closes is None or now < show.sale_closes
    )
    return {
        **show.__dict__,
        "on_sale_now": inside and any(t.on_sale and t.available > 0 for t in tiers),
        "capacity": sum(t.capacity for t in tiers),
        "available_quantity": sum(t.available for t in tiers),
        "payment": terms,
    }


def payment_terms(code: str) -> PaymentTerms | None:
    """An event's payment terms, as its ``Show`` recorded them when it was created (the read
    tables do not keep them); None for a free event and the default one."""
    if code == DEFAULT_SHOW:
        return None
    show = services().ledger.aggregates.find(show_id(code), Show)
    return None if show is None else PaymentTerms.stored(show.payment)


def priced(tiers: list[TierAvailability], terms: PaymentTerms | None) -> list[dict[str, Any]]:
    """The tiers with their prices' currency: the event's."""
    return [{**tier.__dict__, "currency": terms.currency if terms else "USD"} for tier in tiers]


def default_event() -> ShowRow:
    return ShowRow(DEFAULT_SHOW, current_app.config["DEFAULT_EVENT_NAME"], None, None, None)


@blp.route("")
class Events(MethodView):
    @blp.response(200, EventSchema(many=True), example=[EVENT])
    @blp.errors("STORE_UNAVAILABLE")
    def get(self) -> Any:
        """Every event on sale, the default one (`main`) first, then by id."""
        view, now = services().view, datetime.now(UTC)
        shows = [(default_event(), view.list_tiers())]
        shows += [(show, view.tiers_of_show(show.code)) for show in view.list_shows()]
        return [summary(show, tiers, now, payment_terms(show.code)) for show, tiers in shows]


@blp.route("/<event_id>/tickets")
class EventTiers(MethodView):
    @blp.response(200, EventTierSchema(many=True), example=TIERS)
    @blp.errors("EVENT_NOT_FOUND", "STORE_UNAVAILABLE")
    def get(self, event_id: str) -> Any:
        """An event's tiers, as `GET /api/tickets` lists the default event's."""
        view = services().view
        if event_id == DEFAULT_SHOW:
            return priced(view.list_tiers(), None)
        if event_id not in {show.code for show in view.list_shows()}:
            raise ShowNotFoundError(f"No event {event_id!r}.")
        return priced(view.tiers_of_show(event_id), payment_terms(event_id))


@admin_blp.route("")
class NewEvent(MethodView):
    @admin_blp.arguments(NewEventSchema(), error_status_code=400, example=NEW_EVENT)
    @admin_blp.response(201, EventSchema(), example={**EVENT, "availableQuantity": 1500})
    # A conflict here is an event or a tier made meanwhile (409), never a busy ledger: not retried.
    @admin_blp.errors(
        *ADMIN, "FORBIDDEN", *JSON_BODY, "STORE_UNAVAILABLE", "EVENT_ALREADY_EXISTS", "TIER_ALREADY_EXISTS"
    )
    @admin_blp.errors("ORGANIZER_NOT_FOUND")  # ?organizer= names none (or one the member is not of)
    @admin_blp.errors("INVALID_PAYMENT")  # a price not in whole minor units of the event's currency
    @admin_blp.doc(security=ADMIN_SECURITY)
    def post(self, new: dict[str, Any]) -> Any:
        """Create an event and its tiers, all in one recording (or, an id or a tier code
        taken, none): its tiers sell only inside its window."""
        tiers = [NewTier(t["tier"], t["price"], t["capacity"], t["per_user_limit"]) for t in new["tiers"]]
        new_show = NewShow(
            new["event_id"],
            new["name"],
            tiers,
            new["starts_at"],
            new["sale_opens_at"],
            new["sale_closes_at"],
            new.get("payment"),
            new["waiting_list_offer_seconds"],
        )
        organizer = request.args.get("organizer", DEFAULT_ORGANIZER)
        owned = services().staff.ownerships(organizer, new_show.code, [t.code for t in tiers], actor())
        show: Show = services().ledger.create_show(new_show, actor(), recorded_with=owned)
        row = ShowRow(show.code, show.name, show.starts_at, show.sale_opens, show.sale_closes)
        created = [services().ledger.get_tier(code) for code in show.tiers]  # as recorded: none projected yet
        rows = [
            TierAvailability(t.code, t.price, t.capacity, t.sold, t.held, t.available, t.on_sale, 0) for t in created
        ]
        return summary(row, rows, datetime.now(UTC), PaymentTerms.stored(show.payment))
