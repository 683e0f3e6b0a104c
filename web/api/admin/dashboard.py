"""``/api/admin/...`` for the organizer dashboard (``/admin``): what it shows, as JSON.

Behind the admin token like the rest of ``/api/admin`` (``web.identity.tokens.require_admin_token``).
``overview`` is cheap (the read tables and the process's counters) and polled every few
seconds; ``sales`` and ``audit`` replay events, so the page asks for them less often.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask.views import MethodView
from marshmallow import fields

from application.audit.sales import sales_per_minute
from application.audit.tier_audit import TierAudit
from domain.staff import Role
from web.http.metrics import TOTALS, counter_totals
from web.identity.roles import EVERYONE, READERS, visible
from web.identity.staff import principal
from web.identity.tokens import require_admin_token
from web.openapi.apidoc import ADMIN, ADMIN_SECURITY, Blueprint
from web.schemas.fields import Money, ResponseSchema
from web.services import services

blp = Blueprint(
    "dashboard", __name__, url_prefix="/api/admin", description="The organizer dashboard's figures (bearer token)"
)
blp.before_request(require_admin_token)

AT = "2026-11-24T08:41:16.609600+00:00"


def operator() -> bool:
    who = principal()
    return who is not None and who.operator


def sees(allowed: frozenset[Role] = EVERYONE) -> Callable[[str], bool]:
    """Whether the asker may see a tier: the operator all; a member those of the
    organizers where their role is ``allowed``."""
    who = principal()
    if who is None or who.operator:
        return lambda tier: True
    staff = services().staff
    return lambda tier: visible(who, staff.owner_of("tier", tier), allowed)


class TierFiguresSchema(ResponseSchema):
    tier = fields.String()
    price = Money()
    capacity = fields.Integer()
    sold = fields.Integer()
    held = fields.Integer()
    available_quantity = fields.Integer(attribute="available")
    on_sale = fields.Boolean()


class CountersSchema(ResponseSchema):
    """Totals since the server started, summed over its workers (the Prometheus counters):
    a rate is the difference between two readings over the time between them."""

    bookings = fields.Integer(metadata={"description": "bookings recorded, holds confirmed included"})
    tickets_sold = fields.Integer()
    holds = fields.Integer(metadata={"description": "holds placed"})
    conflicts = fields.Integer(metadata={"description": "optimistic-concurrency conflicts, each retried"})
    batches = fields.Integer(metadata={"description": "group-commit batches decided"})
    batched_requests = fields.Integer(metadata={"description": "requests in those batches"})


class DoorFiguresSchema(ResponseSchema):
    """A tier at the door: tickets sold, admitted, and not (yet) in: the no-shows once doors close."""

    event = fields.String(metadata={"description": "the event the tier is of (`main`: the default event)"})
    tier = fields.String()
    sold = fields.Integer(metadata={"description": "tickets of confirmed bookings"})
    admitted = fields.Integer(metadata={"description": "tickets checked in"})
    no_shows = fields.Integer(metadata={"description": "sold and not checked in"})
    conflicts = fields.Integer(metadata={"description": "offline scans of tickets admitted already"})


class WaitingListFiguresSchema(ResponseSchema):
    """A tier's waiting list now (``held`` counts the tickets kept for it and offered)."""

    tier = fields.String()
    waiting = fields.Integer(metadata={"description": "buyers waiting"})
    waiting_tickets = fields.Integer(metadata={"description": "tickets they wait for"})
    offers = fields.Integer(metadata={"description": "offers open, each a hold until it is accepted or lapses"})


class OverviewSchema(ResponseSchema):
    at = fields.DateTime(format="iso")
    tiers = fields.List(fields.Nested(TierFiguresSchema()))
    waiting_lists = fields.List(
        fields.Nested(WaitingListFiguresSchema()), metadata={"description": "tiers with anyone on their list"}
    )
    door = fields.List(fields.Nested(DoorFiguresSchema()), metadata={"description": "tiers with tickets sold"})
    counters = fields.Nested(CountersSchema())
    projection_lag = fields.Integer(metadata={"description": "events recorded but not yet in the read tables"})
    projection_lag_seconds = fields.Float(metadata={"description": "age of the oldest of them"})


class SalesMinuteSchema(ResponseSchema):
    minute = fields.DateTime(format="iso", metadata={"description": "its start, UTC"})
    sold = fields.Integer(metadata={"description": "tickets sold outright or by a hold confirmed"})
    cancelled = fields.Integer(metadata={"description": "tickets put back by cancelling a sale"})
    held = fields.Integer(metadata={"description": "tickets newly held"})


class SalesSchema(ResponseSchema):
    tier = fields.String()
    version = fields.Integer(metadata={"description": "the tier's last event counted"})
    minutes = fields.List(
        fields.Nested(SalesMinuteSchema()),
        metadata={"description": "the minutes in which something was sold, cancelled or held, in order"},
    )
    sold_out_at = fields.DateTime(
        format="iso",
        allow_none=True,
        metadata={"description": "since when nothing is available; null while something is"},
    )


class ProblemSchema(ResponseSchema):
    version = fields.Integer(allow_none=True, metadata={"description": "the first bad event; null for the read tables"})
    message = fields.String()


class TierAuditSchema(ResponseSchema):
    tier = fields.String()
    events = fields.Integer()
    ok = fields.Boolean(metadata={"description": "the history adds up and the read tables agree with it"})
    problems = fields.List(fields.Nested(ProblemSchema()))


OVERVIEW = {
    "at": AT,
    "tiers": [
        {
            "tier": "VIP",
            "price": "100.00",
            "capacity": 100,
            "sold": 40,
            "held": 2,
            "availableQuantity": 58,
            "onSale": True,
        }
    ],
    "waitingLists": [{"tier": "VIP", "waiting": 12, "waitingTickets": 19, "offers": 2}],
    "door": [{"event": "main", "tier": "VIP", "sold": 40, "admitted": 31, "noShows": 9, "conflicts": 1}],
    "counters": {"bookings": 37, "ticketsSold": 40, "holds": 5, "conflicts": 3, "batches": 20, "batchedRequests": 42},
    "projectionLag": 0,
    "projectionLagSeconds": 0.0,
}
SALES = {
    "tier": "VIP",
    "version": 45,
    "soldOutAt": None,
    "minutes": [
        {"minute": "2026-11-24T08:40:00+00:00", "sold": 12, "cancelled": 1, "held": 2},
        {"minute": "2026-11-24T08:41:00+00:00", "sold": 28, "cancelled": 0, "held": 3},
    ],
}


@blp.route("/overview")
class Overview(MethodView):
    @blp.response(200, OverviewSchema(), example=OVERVIEW)
    @blp.errors(*ADMIN, "STORE_UNAVAILABLE")
    @blp.doc(security=ADMIN_SECURITY)
    def get(self) -> Any:
        """Every tier's figures from the read tables, the server's counters and the projection lag now."""
        found, mine = services(), sees()
        return {
            "at": datetime.now(UTC),
            "tiers": [row for row in found.view.list_all_tiers() if mine(row.tier)],
            "waiting_lists": [row for row in found.view.waiting_counts() if mine(row["tier"])],
            "door": [
                {**row, "no_shows": row["sold"] - row["admitted"]}
                for row in found.view.door_counts()
                if mine(row["tier"])
            ],
            # The server's counters span every organizer: the operator's alone.
            "counters": counter_totals() if operator() else dict.fromkeys(TOTALS.values(), 0),
            "projection_lag": found.projector.lag(),
            "projection_lag_seconds": round(found.projector.lag_seconds(), 3),
        }


@blp.route("/tiers/<tier>/sales")
class Sales(MethodView):
    @blp.response(200, SalesSchema(), example=SALES)
    @blp.errors(*ADMIN, "FORBIDDEN", "TICKET_NOT_FOUND", "STORE_UNAVAILABLE")
    @blp.doc(security=ADMIN_SECURITY)
    def get(self, tier: str) -> Any:
        """The tier's sales per minute, replayed from all its events."""
        return sales_per_minute(tier, TierAudit(services().ledger).history(tier))


@blp.route("/audit")
class Audit(MethodView):
    @blp.response(200, TierAuditSchema(many=True), example=[{"tier": "VIP", "events": 45, "ok": True, "problems": []}])
    @blp.errors(*ADMIN, "FORBIDDEN", "STORE_UNAVAILABLE")
    @blp.doc(security=ADMIN_SECURITY)
    def get(self) -> Any:
        """Every tier's whole history replayed and checked, and compared with the read
        tables (what ``ticketledger audit --all`` does)."""
        audit, view = TierAudit(services().ledger), services().view
        results = []
        mine = sees(READERS)
        for code in filter(mine, audit.tier_codes()):
            lines, problems = audit.verify(code, view)
            results.append({"tier": code, "events": len(lines), "ok": not problems, "problems": problems})
        return results
