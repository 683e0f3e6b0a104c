"""Who did what: the staff-made events of the store, each with its actor (``domain.staff``).

An event is staff-made if a person, key, device or the service itself caused it: a tier
created, given capacity, a new price or closed; an event's ownership; an organizer and its team; a
key or device issued or revoked; a member's password, second factor and sessions; a
booking cancelled by staff for its user. Those whose class has an ``actor`` field must
name one: ``missing_actors`` lists those that do not (tiers changed before staff accounts
existed, or a command that forgot to say who). A member's own sign-in, sign-out and reset
request have no field: their actor is the member. A booking's cancellation is staff-made
only if it names an actor: one that names none is its user's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.utils import get_topic

from application.persistence.application import StoreApplication
from domain.bookings import Booking
from domain.credentials import DEVICE, Credential
from domain.organizers import Organizer, Ownership, organizer_id
from domain.staff import Member, member_actor
from domain.tiers import TicketTier

STAFF_EVENTS: tuple[type, ...] = (
    TicketTier.Created,
    TicketTier.CapacityAdded,
    TicketTier.PriceChanged,
    TicketTier.SalesClosed,
    Ownership.Assigned,
    Organizer.Founded,
    Organizer.MemberEnrolled,  # type: ignore[attr-defined]
    Organizer.MemberRemoved,  # type: ignore[attr-defined]
    Member.Joined,
    Member.PasswordChanged,  # type: ignore[attr-defined]
    Member.SecondFactorEnabled,  # type: ignore[attr-defined]
    Member.SignedIn,  # type: ignore[attr-defined]
    Member.SignedOut,  # type: ignore[attr-defined]
    Member.SignedOutEverywhere,  # type: ignore[attr-defined]
    Member.PasswordResetRequested,  # type: ignore[attr-defined]
    Member.RoleGranted,  # type: ignore[attr-defined]
    Member.RoleRevoked,  # type: ignore[attr-defined]
    Credential.Issued,
    Credential.Revoked,  # type: ignore[attr-defined]
    Booking.Cancelled,
)
BY_USER_OR_STAFF = (Booking.Cancelled,)  # staff-made only when they name an actor
TOPICS = [get_topic(kind) for kind in STAFF_EVENTS]
PAGE = 1000
KINDS = ("tier", "event", "team", "key", "device", "door", "booking")  # what an action was done to


@dataclass(frozen=True)
class Action:
    at: datetime
    actor: str | None
    what: str  # the event's name: CapacityAdded, RoleGranted, TicketCheckedIn...
    subject: str  # what it was done to: a tier's code, a member's email, a key's name, a ticket...
    kind: str = ""  # what sort of thing it was done to: one of KINDS
    actor_name: str | None = None  # the member's email, the key's or device's name
    detail: str = ""  # what it came to: a tier's price and capacity, tickets added, a price change, a role, a gate
    booking_id: str | None = None  # a scan's or a cancellation's booking


class DoorScan(Protocol):
    """A scan as the read tables keep it (``projections``' ``ScanRow``)."""

    @property
    def ticket_id(self) -> str: ...
    @property
    def booking_id(self) -> str: ...
    @property
    def gate(self) -> str: ...
    @property
    def scanned_at(self) -> datetime: ...
    @property
    def admitted(self) -> bool: ...
    @property
    def device_id(self) -> str | None: ...


def staff_events(app: StoreApplication) -> Iterator[Any]:
    """Every staff-made event, in the store's order."""
    return (event for event in recorded(app, TOPICS) if not isinstance(event, BY_USER_OR_STAFF) or event.actor)


def recorded(app: StoreApplication, topics: list[str]) -> Iterator[Any]:
    """Every event of the store with one of ``topics``, in the store's order."""
    position = 0
    while True:
        page = app.recorder.select_notifications(position + 1, PAGE, topics=topics)
        for notification in page:
            yield app.mapper.to_domain_event(notification)
        if len(page) < PAGE:
            return
        position = page[-1].id


def actor_of(event: Any) -> str | None:
    """The event's actor; a member's own sign-in, sign-out or reset: the member."""
    if "actor" in type(event).__dataclass_fields__:
        found: str | None = getattr(event, "actor", None)
        return found
    return member_actor(event.originator_id)


def missing_actors(app: StoreApplication) -> list[tuple[str, UUID, int]]:
    """(topic, aggregate id, version) of each staff-made event that names no actor."""
    return [
        (get_topic(type(event)), event.originator_id, event.originator_version)
        for event in staff_events(app)
        if not actor_of(event)
    ]


def activity(app: StoreApplication, owner_of: Any, organizer: str, scans: Iterable[DoorScan] = ()) -> list[Action]:
    """What staff did at ``organizer``, oldest first: its tiers, team, keys and devices, and
    the ``scans`` its door devices made. ``owner_of(kind, code)`` says which organizer an
    event or tier belongs to."""
    names: dict[UUID, str] = {}
    mine: set[UUID] = {organizer_id(organizer)}
    actors: dict[str, str] = {}  # actor -> the member's email, the key's or device's name
    actions = []
    for event in staff_events(app):
        if isinstance(event, Booking.Cancelled):
            names[event.originator_id] = booked_tier(app, event.originator_id)
        subject = about(event, organizer, owner_of, names, mine)
        if named := actor_named(event):
            actors[named[0]] = named[1]
        if subject is not None:
            actions.append(done_action(event, subject, names))
    devices = {str(id) for id in mine if names.get(id, "").startswith("device ")}
    actions += [door_action(scan) for scan in scans if scan.device_id in devices]
    actions.sort(key=lambda action: action.at)
    return [replace(action, actor_name=actors.get(action.actor or "")) for action in actions]


def done_action(event: Any, subject: str, names: dict[UUID, str]) -> Action:
    """The action ``event`` records, done to ``subject``."""
    what, kind = type(event).__name__, kind_of(event, names)
    if isinstance(event, Booking.Cancelled):
        tier = names[event.originator_id]
        return Action(event.timestamp, event.actor, what, subject, kind, detail=f"tier {tier}", booking_id=subject)
    return Action(event.timestamp, actor_of(event), what, subject, kind, detail=told(event))


def booked_tier(app: StoreApplication, booking_id: UUID) -> str:
    """The tier of a booking (its first event says it)."""
    booking = app.aggregate(booking_id, Booking, version=1)
    return booking.tier if booking else ""


def narrowed(actions: list[Action], kind: str | None, search: str, limit: int | None) -> list[Action]:
    """The ``actions`` of ``kind`` (any: None) whose actor, names, subject, detail or booking
    hold ``search`` (case aside), the newest ``limit`` of them (all: None), oldest first."""
    needle = search.casefold()
    found = [
        action
        for action in actions
        if kind in (None, action.kind)
        and needle in " ".join(filter(None, (action.actor, action.actor_name, action.what, action.subject,
                                             action.detail, action.booking_id))).casefold()
    ]  # fmt: skip
    return found[-limit:] if limit else found


def actor_named(event: Any) -> tuple[str, str] | None:
    """The actor a member's or credential's first event makes, and its name."""
    if isinstance(event, Member.Joined):
        return member_actor(event.originator_id), event.email
    if isinstance(event, Credential.Issued):
        return f"{event.kind}:{event.originator_id}", event.name
    return None


def kind_of(event: Any, names: dict[UUID, str]) -> str:
    """Which of ``KINDS`` the thing ``event`` was done to is."""
    if isinstance(event, TIER_EVENTS):
        return "tier"
    if isinstance(event, Booking.Cancelled):
        return "booking"
    if isinstance(event, Ownership.Assigned):
        return "event"
    if isinstance(event, (Credential.Issued, Credential.Revoked)):  # type: ignore[attr-defined]
        return names.get(event.originator_id, "key").split(" ", 1)[0]
    return "team"


def told(event: Any) -> str:
    """What ``event`` came to, where its name and subject do not say it."""
    if isinstance(event, TicketTier.Created):
        return f"price {event.price}, capacity {event.capacity}"
    if isinstance(event, TicketTier.CapacityAdded):
        return f"{event.quantity} tickets added"
    if isinstance(event, TicketTier.PriceChanged):
        return f"from {event.old_price} to {event.new_price}"
    if isinstance(event, Member.RoleGranted):  # type: ignore[attr-defined]
        return f"role {event.role}"
    if isinstance(event, Credential.Issued):
        return f"event {event.event_code}, gate {event.gate}" if event.kind == "device" else f"role {event.role}"
    return ""


def door_action(scan: DoorScan) -> Action:
    """A door device's scan: the ticket admitted (or, offline, a scan in conflict) and where."""
    what = "TicketCheckedIn" if scan.admitted else "ScanConflict"
    actor = f"{DEVICE}{scan.device_id}"
    return Action(
        scan.scanned_at, actor, what, scan.ticket_id, "door", detail=f"gate {scan.gate}", booking_id=scan.booking_id
    )


TIER_EVENTS = (TicketTier.Created, TicketTier.CapacityAdded, TicketTier.PriceChanged, TicketTier.SalesClosed)
ROLE_EVENTS = (Member.RoleGranted, Member.RoleRevoked)  # type: ignore[attr-defined]


def about(event: Any, organizer: str, owner_of: Any, names: dict[UUID, str], mine: set[UUID]) -> str | None:
    """What ``event`` was done to, if it concerns ``organizer`` (None otherwise). Learns,
    as the events go by, the names of tiers, members and credentials, and which
    credentials are the organizer's."""
    if isinstance(event, Member.Joined):
        names[event.originator_id] = event.email
    elif isinstance(event, TicketTier.Created):
        names[event.originator_id] = event.code
    elif isinstance(event, Credential.Issued):
        names[event.originator_id] = f"{event.kind} {event.name}"
        if event.organizer == organizer:
            mine.add(event.originator_id)
    if isinstance(event, TIER_EVENTS):
        code = names.get(event.originator_id, "")
        return code if owner_of("tier", code) == organizer else None
    if isinstance(event, Ownership.Assigned):
        return f"{event.kind} {event.code}" if event.organizer == organizer else None
    if isinstance(event, Booking.Cancelled):
        return str(event.originator_id) if owner_of("tier", names[event.originator_id]) == organizer else None
    if isinstance(event, ROLE_EVENTS):
        return names.get(event.originator_id, str(event.originator_id)) if event.organizer == organizer else None
    if event.originator_id in mine:  # the organizer's own events, and its keys' and devices'
        member = getattr(event, "member", None)
        return names.get(member, str(member)) if member else names.get(event.originator_id, organizer)
    return None
