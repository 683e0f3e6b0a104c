"""What each role may do: ``ACCESS`` maps every admin endpoint (``METHOD /rule``) to the
roles allowed it, as the table in docs/security.md does (a test runs that table through
real servers). ``require_role`` is every admin blueprint's guard (``require_admin_token``
calls it).

An endpoint about one organizer's thing (a tier, an event, the organizer itself) is
decided by the member's role at the thing's organizer; to a member with no role there,
the thing does not exist (the same 404 as for a code that names nothing). An endpoint
across organizers (the overview, the audit) is open to a member with an allowed role
anywhere, and shows each only what is theirs. An endpoint missing from ``ACCESS`` is the
operator's alone: a new endpoint is closed to members until it is given a row.
"""

from __future__ import annotations

from flask import current_app, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, NotFound, Unauthorized

from application import no_booking
from application.errors import ShowNotFoundError, TierNotFoundError
from application.staff.errors import OrganizerNotFoundError
from domain.organizers import DEFAULT_ORGANIZER
from domain.staff import Role
from web.identity.staff import Principal, accounts, principal
from web.schemas.bookings import parse_booking_id
from web.services import services

OWNERS = frozenset({Role.OWNER})
MANAGERS = frozenset({Role.OWNER, Role.MANAGER})
SELLERS = frozenset({Role.OWNER, Role.MANAGER, Role.BOX_OFFICE})
READERS = frozenset({Role.OWNER, Role.MANAGER, Role.BOX_OFFICE, Role.VIEWER})
EVERYONE = frozenset(Role)

ACCESS: dict[str, frozenset[Role]] = {
    "POST /api/admin/events": MANAGERS,
    "POST /api/admin/tiers": MANAGERS,
    "POST /api/admin/tiers/<tier>/capacity": MANAGERS,
    "POST /api/admin/tiers/<tier>/price": MANAGERS,
    "POST /api/admin/tiers/<tier>/close": MANAGERS,
    "GET /api/admin/tiers/<tier>/history": READERS,
    "GET /api/admin/tiers/<tier>/sales": READERS,
    "GET /api/admin/overview": EVERYONE,
    "GET /api/admin/audit": READERS,
    "GET /api/admin/organizers/<organizer>/members": MANAGERS,
    "POST /api/admin/organizers/<organizer>/members": OWNERS,
    "DELETE /api/admin/organizers/<organizer>/members/<member_id>": OWNERS,
    "POST /api/admin/organizers/<organizer>/api-keys": OWNERS,
    "POST /api/admin/organizers/<organizer>/api-keys/<key_id>/revoke": OWNERS,
    "GET /api/admin/organizers/<organizer>/activity": READERS,
    "GET /api/admin/events/<event_id>/devices": MANAGERS,
    "POST /api/admin/events/<event_id>/devices": MANAGERS,
    "POST /api/admin/events/<event_id>/devices/<device_id>/revoke": MANAGERS,
    "POST /api/admin/bookings/<booking_id>/cancel": SELLERS,
}


def rule_key() -> str:
    rule = request.url_rule.rule if request.url_rule else request.path
    return f"{request.method} {rule}"


def require_role() -> None:
    """401 without valid credentials (404 where no admin token is configured: to all but
    signed-in staff the admin endpoints then do not exist, as before staff accounts);
    then what ``ACCESS`` says."""
    if request.method == "OPTIONS":  # a CORS preflight never carries credentials
        return
    who = principal()
    if who is None:
        if not current_app.config["ADMIN_TOKEN"]:
            raise NotFound()
        raise Unauthorized("Authentication required.", www_authenticate=WWWAuthenticate("bearer"))
    if who.operator:
        return
    allowed = ACCESS.get(rule_key(), frozenset())
    if not allowed:
        raise NotFound()
    organizer, hidden = organizer_of_request()
    if organizer is None:
        if not any(role in allowed for role in who.roles.values()):
            raise Forbidden("Your role does not allow this.")
        return
    role = who.role_at(organizer)
    if role is None:
        raise hidden
    if role not in allowed:
        raise Forbidden("Your role does not allow this.")


def organizer_of_request() -> tuple[str | None, Exception]:
    """The organizer the request is about (None: across organizers), and what a stranger
    to it is answered: the not-found of the thing asked for."""
    args = request.view_args or {}
    if "organizer" in args:
        return args["organizer"], OrganizerNotFoundError(f"No organizer {args['organizer']!r}.")
    if "tier" in args:
        return accounts().owner_of("tier", args["tier"]), TierNotFoundError(f"No tier {args['tier']!r}.")
    if "booking_id" in args:
        return booking_organizer(args["booking_id"]), no_booking(args["booking_id"])
    if "event_id" in args:
        return accounts().owner_of("show", args["event_id"]), ShowNotFoundError(f"No event {args['event_id']!r}.")
    if rule_key() == "POST /api/admin/events":
        code = request.args.get("organizer", DEFAULT_ORGANIZER)
        return code, OrganizerNotFoundError(f"No organizer {code!r}.")
    if rule_key() == "POST /api/admin/tiers":  # a tier of the default event
        return DEFAULT_ORGANIZER, NotFound()
    return None, NotFound()


def booking_organizer(text: str) -> str:
    """The organizer of the booking's tier; BOOKING_NOT_FOUND if there is no such booking."""
    booking = services().ledger.find_booking(parse_booking_id(text))
    if booking is None:
        raise no_booking(text)
    return accounts().owner_of("tier", booking.tier)


def visible(who: Principal, organizer: str, allowed: frozenset[Role] = EVERYONE) -> bool:
    """Whether ``who`` may see what belongs to ``organizer`` (the across-organizer views)."""
    return who.role_at(organizer) in allowed
