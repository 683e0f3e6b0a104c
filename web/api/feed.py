"""``/api/feed``: the integration events, in order, from any position, with long-polling.

A consumer keeps the last ``position`` it has processed and asks for what follows:
``GET /api/feed?after=<position>&wait=25``. The answer lists the events after it (up
to ``limit``) and ``nextAfter``, the position to ask from next; with ``wait`` it is held
open until an event arrives or ``wait`` seconds pass, so following the feed live is one
request after another. After a crash the consumer resumes from the position it stored:
the feed is the outbox table, whose rows never change, so the same question always gets
the same answer, byte for byte.

Readers present the admin token or the feed's own read token (``FEED_TOKEN``), which
can be handed to an integrator without admin rights; with neither set the feed does not
exist (404), as the admin endpoints do not.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Response, current_app
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates
from werkzeug.exceptions import NotFound

from projections.integrations.notices import TYPES
from projections.integrations.store import StoredNotice
from web.identity.tokens import require_bearer
from web.openapi.apidoc import FEED_SECURITY, Blueprint
from web.openapi.error_examples import BOOKING_ID
from web.schemas.fields import MAX_STORED_INTEGER, CamelCaseSchema, QueryInteger
from web.services import services

blp = Blueprint(
    "feed", __name__, url_prefix="/api/feed", description="Integration events, in order (admin or feed token)"
)
POLL_SECONDS = 0.1  # between reads of the outbox while a long-poll waits


@blp.before_request
def require_feed_token() -> None:
    tokens = [t for t in (current_app.config["ADMIN_TOKEN"], current_app.config["FEED_TOKEN"]) if t]
    if not tokens:
        raise NotFound()
    require_bearer(tokens)


class FeedQuerySchema(CamelCaseSchema):
    after = QueryInteger(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_STORED_INTEGER),
        metadata={"description": "the last position you processed (0: from the start)"},
    )
    limit = QueryInteger(load_default=100, validate=validate.Range(min=1, max=1000))
    wait = QueryInteger(
        load_default=0,
        validate=validate.Range(min=0),
        metadata={
            "description": "seconds to hold the request open while there is nothing new",
            "maximum_setting": "FEED_MAX_WAIT_SECONDS",
        },
    )

    @validates("wait")
    def wait_within_limit(self, value: int, **_: Any) -> None:
        limit = current_app.config["FEED_MAX_WAIT_SECONDS"]
        if value > limit:
            raise ValidationError(f"At most {limit} seconds.")


class IntegrationEventSchema(Schema):
    """One integration event: what the feed lists and what each webhook delivery's body is."""

    id = fields.UUID(
        required=True, metadata={"description": "stable: the same event always has the same id; de-duplicate by it"}
    )
    type = fields.String(required=True, metadata={"enum": list(TYPES)})
    position = fields.Integer(
        required=True,
        metadata={"description": "order in the feed: the store's notification id × 10 + the event's index within it"},
    )
    occurredAt = fields.DateTime(required=True, metadata={"description": "when the ledger recorded it (UTC)"})
    tier = fields.String(required=True)
    bookingId = fields.UUID(required=True, allow_none=True, metadata={"description": "null for tier.* events"})
    userId = fields.String(required=True, allow_none=True, metadata={"description": "null for tier.* events"})
    quantity = fields.Integer(
        required=True,
        allow_none=True,
        metadata={
            "description": "the booking's or hold's tickets (ticket.*: 1); tier.capacity_added: tickets added; or null"
        },
    )
    expiresAt = fields.DateTime(
        required=True,
        allow_none=True,
        metadata={"description": "hold.placed: when the hold lapses; payment.awaiting: the deadline to pay"},
    )
    capacity = fields.Integer(required=True, metadata={"description": "the tier's figures right after the event"})
    sold = fields.Integer(required=True)
    held = fields.Integer(required=True)
    availableQuantity = fields.Integer(required=True)
    ticketId = fields.UUID(required=True, allow_none=True, metadata={"description": "ticket.* events only"})
    gate = fields.String(required=True, allow_none=True, metadata={"description": "ticket.* events only"})
    amount = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "payment.* only: due, received or refunded, in integer minor units of currency"},
    )
    currency = fields.String(required=True, allow_none=True, metadata={"description": "payment.* only: ISO 4217"})
    reference = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "payment.* only: the ISO 11649 RF creditor reference a bank transfer quotes"},
    )
    price = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": 'tier.price_changed only: the tier\'s new price, a decimal string such as "80.00"'},
    )
    previousPrice = fields.String(
        required=True, allow_none=True, metadata={"description": "tier.price_changed only: the price before"}
    )


class FeedPageSchema(Schema):
    items = fields.List(fields.Nested(IntegrationEventSchema()), required=True)
    nextAfter = fields.Integer(
        required=True,
        metadata={"description": "pass as ?after= next: the last item's position, or your `after` if there was none"},
    )


AT = "2026-11-24T08:41:16.609600+00:00"
EVENT_EXAMPLE = {
    "id": "0f0c1a52-7b8e-5d3c-9a4f-2c6d8e1b3a57",
    "type": "booking.confirmed",
    "position": 120,
    "occurredAt": AT,
    "tier": "VIP",
    "bookingId": BOOKING_ID,
    "userId": "alice",
    "quantity": 2,
    "expiresAt": None,
    "capacity": 100,
    "sold": 3,
    "held": 0,
    "availableQuantity": 97,
    "ticketId": None,
    "gate": None,
    "amount": None,
    "currency": None,
    "reference": None,
    "price": None,
    "previousPrice": None,
}


@blp.route("")
class Feed(MethodView):
    @blp.arguments(FeedQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, FeedPageSchema(), example={"items": [EVENT_EXAMPLE], "nextAfter": 120})
    @blp.errors("VALIDATION_ERROR", "UNAUTHORIZED", "NOT_FOUND", "STORE_UNAVAILABLE")
    @blp.doc(security=FEED_SECURITY)
    def get(self, query: dict[str, Any]) -> Response:
        """The integration events after position ``after``, oldest first; with ``wait``,
        held open until there is one (long-polling)."""
        events = wait_for_events(query["after"], query["limit"], query["wait"])
        next_after = events[-1].position if events else query["after"]
        # The stored bodies as they are: what a webhook receives, byte for byte.
        body = '{"items":[' + ",".join(e.body for e in events) + f'],"nextAfter":{next_after}}}'
        return Response(body, mimetype="application/json")


def wait_for_events(after: int, limit: int, wait: float) -> list[StoredNotice]:
    """Read the outbox after ``after``; while it has nothing, again every 0.1 s for ``wait`` s."""
    deadline = time.monotonic() + wait
    while True:
        events = services().caught_up_integrations().tables.notices_after(after, limit)
        if events or time.monotonic() >= deadline:
            return events
        time.sleep(POLL_SECONDS)
