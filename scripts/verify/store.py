"""What the event store recorded, read directly (never through the service's API), as
plain data for the checker: every tier's events with its figures after each (the audit's
replay), every booking's own events, and what the audit finds wrong, read tables
included.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from application import BookingLedger
from application.audit.tier_audit import Problem, Replay, TierAudit
from application.booking.idempotency import idempotency_secret
from domain.bookings import Booking, idempotent_booking_id
from projections import LedgerView

BOOKING_EVENTS = (Booking.Confirmed, Booking.Held, Booking.HoldConfirmed, Booking.HoldReleased, Booking.Cancelled)


@dataclass(frozen=True)
class TierStep:
    """One event of a tier, and the tier's figures right after it."""

    version: int
    event: str  # the class name: TicketsBooked, TicketsHeld, HoldConfirmed, HoldReleased, TicketsReleased, ...
    at: float  # the event's timestamp, Unix seconds
    booking_id: str | None
    user_id: str | None
    quantity: int | None
    capacity: int
    sold: int
    held: int
    available: int


@dataclass(frozen=True)
class Change:
    """An event that changed a booking's status after it was made."""

    event: str  # HoldConfirmed, HoldReleased or Cancelled
    at: float
    reason: str | None = None  # HoldReleased: "released" or "expired"


@dataclass
class StoredBooking:
    booking_id: str
    user_id: str
    tier: str
    quantity: int
    held: bool  # began as a hold
    created_at: float
    expires_at: float | None = None
    changes: list[Change] = field(default_factory=list)
    status: str = ""


@dataclass
class Store:
    """Everything the checker needs to know about the recorded store."""

    tiers: dict[str, list[TierStep]] = field(default_factory=dict)  # step i is version i + 1
    bookings: dict[str, StoredBooking] = field(default_factory=dict)
    problems: list[tuple[str, Problem]] = field(default_factory=list)  # (tier, what the audit found)
    read_at: float = 0.0
    idempotency_secret: str = ""  # hex: which booking id each key names (application.booking.idempotency)

    def named(self, user_id: str, key: str) -> str:
        """The id of the booking that ``user_id``'s request with ``key`` makes."""
        return str(idempotent_booking_id(bytes.fromhex(self.idempotency_secret), user_id, key))


def save(store: Store, path: Path) -> None:
    """Keep what was read as JSON, beside the history, so the run can be checked again."""
    path.write_text(json.dumps(asdict(store)))


def load(path: Path) -> Store:
    data = json.loads(path.read_text())
    return Store(
        tiers={code: [TierStep(**s) for s in steps] for code, steps in data["tiers"].items()},
        bookings={
            b["booking_id"]: StoredBooking(**{**b, "changes": [Change(**c) for c in b["changes"]]})
            for b in data["bookings"].values()
        },
        problems=[(code, Problem(**problem)) for code, problem in data["problems"]],
        read_at=data["read_at"],
        idempotency_secret=data["idempotency_secret"],
    )


def read_store(ledger: BookingLedger, view: LedgerView | None, read_at: float) -> Store:
    """Read every tier and booking; with ``view``, also compare the read tables (they
    must have caught up: read a quiet store)."""
    audit = TierAudit(ledger)
    secret = idempotency_secret(ledger.env.get("IDEMPOTENCY_SECRET"), ledger.factory)
    store = Store(read_at=read_at, idempotency_secret=secret.hex())
    for code in audit.tier_codes():
        replay = Replay()
        store.tiers[code] = [step(replay, event) for event in audit.events(code)]
        store.problems += [(code, problem) for problem in audit.verify(code, view)[1]]
    for event in booking_events(ledger):
        if not apply_booking_event(store.bookings, event):
            problem = Problem(event.originator_version, "a booking changed whose creation is not in the store")
            store.problems.append((f"booking {event.originator_id}", problem))
    return store


def step(replay: Replay, event: Any) -> TierStep:
    line = replay.apply(event)
    return TierStep(
        line.version,
        line.event,
        line.at.timestamp(),
        str(line.booking_id) if line.booking_id else None,
        line.user_id,
        getattr(event, "quantity", None),
        line.capacity,
        line.sold,
        line.held,
        line.available,
    )


def booking_events(ledger: BookingLedger) -> list[Any]:
    """Every booking event in the store, in the order they were recorded."""
    return recorded_events(ledger, BOOKING_EVENTS)


def recorded_events(ledger: BookingLedger, classes: tuple[type, ...]) -> list[Any]:
    """Every event of ``classes`` in the store, in the order they were recorded."""
    topics = [f"{cls.__module__}:{cls.__qualname__}" for cls in classes]
    events, start = [], 1
    while page := ledger.recorder.select_notifications(start, 1000, topics=topics):
        events += [ledger.mapper.to_domain_event(n) for n in page]
        start = page[-1].id + 1
    return events


def apply_booking_event(bookings: dict[str, StoredBooking], event: Any) -> bool:
    """Apply one booking event; False if it changes a booking the store never created
    (what losing acknowledged commits in a failover can leave: docs/production.md)."""
    booking_id, at = str(event.originator_id), event.timestamp.timestamp()
    if isinstance(event, (Booking.Confirmed, Booking.Held)):
        held = isinstance(event, Booking.Held)
        bookings[booking_id] = StoredBooking(
            booking_id,
            event.user_id,
            event.tier,
            event.quantity,
            held,
            at,
            event.expires_at.timestamp() if held else None,
            status="held" if held else "confirmed",
        )
        return True
    booking = bookings.get(booking_id)
    if booking is None:
        return False
    reason = getattr(event, "reason", None)
    booking.changes.append(Change(type(event).__name__, at, reason))
    booking.status = {"HoldConfirmed": "confirmed", "Cancelled": "cancelled"}.get(type(event).__name__, reason)
    return True
