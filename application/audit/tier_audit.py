"""Audit a tier: replay its history event by event, rebuild it as it was at any version or
time, and check every invariant over the whole history and against the read tables.

The event store is the evidence. Everything here is derived from the tier's own events
(and, for the cross-check, from the bookings those events name, and their scans at the door:
``door_audit.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import OriginatorVersionError

from application.audit.door_audit import door_counts, door_problems, scans_of_tier
from application.booking.ledger import BookingLedger
from application.errors import TierNotFoundError, VersionNotFoundError
from domain.bookings import BookingStatus
from domain.tiers import TicketTier, tier_id

LIST_EVENTS = (
    TicketTier.JoinedWaitingList,
    TicketTier.LeftWaitingList,
    TicketTier.TicketsKeptForWaitingList,
    TicketTier.TicketsBackOnSale,
    TicketTier.OfferMade,
    TicketTier.OfferEnded,
)


@dataclass(frozen=True)
class AuditLine:
    """One event of a tier and the tier's figures right after it."""

    version: int
    event: str
    at: datetime
    booking_id: UUID | None
    user_id: str | None
    available_change: int
    capacity: int
    sold: int
    held: int
    available: int


@dataclass(frozen=True)
class Problem:
    """Something in the history or the read tables that does not add up."""

    version: int | None  # the first bad event, or None for the read tables
    message: str


@dataclass
class Replay:
    """The running figures of a tier while its events are replayed, and what they
    say about its bookings: each booking is sold at most once, held at most once,
    and each sale or hold ends at most once, with the quantity it began with.

    And about its waiting list: nothing is sold or held for the public while anyone waits;
    each place is offered at most once, first in line first, with tickets that were kept
    for the list (never more); each offer ends once, after its hold did.

    And about its price: each change starts from the price the tier had."""

    capacity: int = 0
    price: Decimal | None = None  # None until the tier's creation is replayed
    sold: int = 0
    held: int = 0
    version: int = 0
    booked: dict[UUID, int] = field(default_factory=dict)  # sold outright or by a confirmed hold
    released: set[UUID] = field(default_factory=set)  # cancelled after the sale
    holds: dict[UUID, int] = field(default_factory=dict)  # holds not ended yet
    ended_holds: dict[UUID, tuple[int, BookingStatus]] = field(default_factory=dict)  # released or expired
    problems: list[Problem] = field(default_factory=list)
    waiting: dict[UUID, int] = field(default_factory=dict)  # places on the list, in order: their quantity
    kept: int = 0  # tickets kept for the list (counted in ``held``)
    offers: set[UUID] = field(default_factory=set)  # offers not ended yet, by hold id
    entries: set[UUID] = field(default_factory=set)  # every place that ever joined

    @property
    def available(self) -> int:
        return self.capacity - self.sold - self.held

    def apply(self, event: Any) -> AuditLine:
        """Account for one event; note every invariant it breaks."""
        v = event.originator_version
        if v != self.version + 1:
            self.problems.append(Problem(v, f"version {v} follows version {self.version}"))
        self.version = v
        booking_id = getattr(event, "booking_id", None)
        change = self._change(event, booking_id)
        if self.available < 0:
            self.problems.append(Problem(v, f"available is {self.available} after {type(event).__name__}"))
        return AuditLine(
            v,
            type(event).__name__,
            event.timestamp,
            booking_id,
            getattr(event, "user_id", None),
            change,
            self.capacity,
            self.sold,
            self.held,
            self.available,
        )

    def _change(self, event: Any, booking_id: UUID | None) -> int:
        """Apply the event's figures; return how it changed the tickets available."""
        if isinstance(event, TicketTier.Created):
            self.capacity = event.capacity
            self.price = event.price
            return event.capacity
        if isinstance(event, TicketTier.PriceChanged):
            if event.old_price != self.price:
                self._problem(event, f"the price changes from {event.old_price}, but it was {self.price}")
            self.price = event.new_price
            return 0
        if isinstance(event, TicketTier.CapacityAdded):
            self.capacity += event.quantity
            return event.quantity
        if isinstance(event, LIST_EVENTS):
            return self._waiting_list(event)
        if booking_id is None:  # every other event but closing the sales names a booking
            if not isinstance(event, TicketTier.SalesClosed):
                self._problem(event, f"unknown event {type(event).__qualname__}")
            return 0
        if isinstance(event, (TicketTier.TicketsBooked, TicketTier.TicketsHeld)):
            if self.waiting:
                self._problem(event, f"booking {booking_id} is sold to the public while {len(self.waiting)} wait")
            self._begins(event, booking_id)
            return -event.quantity
        if isinstance(event, TicketTier.HoldConfirmed):
            self._ends_hold(event, booking_id, BookingStatus.CONFIRMED)
            self.booked[booking_id] = event.quantity
            self.sold += event.quantity
            return 0
        if isinstance(event, TicketTier.HoldReleased):
            self._ends_hold(event, booking_id, BookingStatus(event.reason))
            return event.quantity
        if isinstance(event, TicketTier.TicketsReleased):
            if booking_id in self.released:
                self._problem(event, f"booking {booking_id} is cancelled a second time")
            elif self.booked.get(booking_id) != event.quantity:
                self._problem(
                    event,
                    f"booking {booking_id} releases {event.quantity} "
                    f"ticket(s) but booked {self.booked.get(booking_id)}",
                )
            self.released.add(booking_id)
            self.sold -= event.quantity
            return event.quantity
        if not isinstance(event, TicketTier.SalesClosed):
            self._problem(event, f"unknown event {type(event).__qualname__}")
        return 0

    def _waiting_list(self, event: Any) -> int:
        """Account for a waiting-list event; return how it changed the tickets available."""
        if isinstance(event, TicketTier.JoinedWaitingList):
            if event.entry_id in self.entries:
                self._problem(event, f"place {event.entry_id} joins the list a second time")
            self.entries.add(event.entry_id)
            self.waiting[event.entry_id] = event.quantity
        elif isinstance(event, TicketTier.LeftWaitingList):
            if self.waiting.pop(event.entry_id, None) is None:
                self._problem(event, f"place {event.entry_id} leaves a list it is not waiting on")
        elif isinstance(event, TicketTier.TicketsKeptForWaitingList):
            self.kept += event.quantity
            self.held += event.quantity
            return -event.quantity
        elif isinstance(event, TicketTier.TicketsBackOnSale):
            if self.waiting or event.quantity > self.kept:
                self._problem(
                    event, f"{event.quantity} ticket(s) back on sale: {self.kept} kept, {len(self.waiting)} wait"
                )
            self.kept -= event.quantity
            self.held -= event.quantity
            return event.quantity
        elif isinstance(event, TicketTier.OfferMade):
            self._offer(event)
        elif event.booking_id not in self.offers or event.booking_id in self.holds:  # an offer ended
            self._problem(event, f"offer {event.booking_id} ends, but it is not an open offer whose hold ended")
        else:
            self.offers.discard(event.booking_id)
        return 0

    def _offer(self, event: Any) -> None:
        first = next(iter(self.waiting), None)
        if event.entry_id != first or self.waiting[first] != event.quantity:
            self._problem(event, f"place {event.entry_id} is offered {event.quantity} out of turn")
        if event.quantity > self.kept:
            self._problem(event, f"an offer of {event.quantity} ticket(s) exceeds the {self.kept} kept for the list")
        self.waiting.pop(event.entry_id, None)
        self.kept -= event.quantity
        self._begins_hold(event, event.booking_id)
        self.held -= event.quantity  # the kept tickets become the offer's hold: still held
        self.offers.add(event.booking_id)

    def list_problems(self) -> list[Problem]:
        """What the end of the history says about the list: nothing available while
        anyone waits, and no offer left open after its hold ended."""
        problems = []
        if self.waiting and self.available > 0:
            problems.append(Problem(self.version, f"{self.available} ticket(s) on sale while {len(self.waiting)} wait"))
        problems += [Problem(self.version, f"offer {b}'s hold ended; the offer never did") for b in self.offers
                     if b not in self.holds]  # fmt: skip
        return problems

    def _begins_hold(self, event: Any, booking_id: UUID) -> None:
        self._check_new(event, booking_id)
        self.holds[booking_id] = event.quantity
        self.held += event.quantity

    def _begins(self, event: Any, booking_id: UUID) -> None:
        if isinstance(event, TicketTier.TicketsHeld):
            self._begins_hold(event, booking_id)
            return
        self._check_new(event, booking_id)
        self.booked[booking_id] = event.quantity
        self.sold += event.quantity

    def _check_new(self, event: Any, booking_id: UUID) -> None:
        if booking_id in self.booked or booking_id in self.holds or booking_id in self.ended_holds:
            self._problem(event, f"booking {booking_id} is booked a second time")

    def _ends_hold(self, event: Any, booking_id: UUID, how: BookingStatus) -> None:
        quantity = self.holds.pop(booking_id, None)
        if quantity != event.quantity:
            self._problem(
                event,
                f"hold {booking_id} is {how} with {event.quantity} ticket(s) "
                f"but holds {quantity or 'none (not an active hold)'}",
            )
        self.held -= event.quantity
        if how != BookingStatus.CONFIRMED:
            self.ended_holds[booking_id] = (event.quantity, how)

    def _problem(self, event: Any, message: str) -> None:
        self.problems.append(Problem(event.originator_version, message))

    @property
    def confirmed(self) -> dict[UUID, int]:
        return {b: q for b, q in self.booked.items() if b not in self.released}

    def statuses(self) -> dict[UUID, tuple[int, BookingStatus]]:
        """Each booking's quantity and the status the events give it."""
        cancelled, confirmed = BookingStatus.CANCELLED, BookingStatus.CONFIRMED
        return {
            **{b: (q, cancelled if b in self.released else confirmed) for b, q in self.booked.items()},
            **{b: (q, BookingStatus.HELD) for b, q in self.holds.items()},
            **self.ended_holds,
        }


class TierAudit:
    """Reads a tier's history from the ledger's event store."""

    def __init__(self, ledger: BookingLedger) -> None:
        self.ledger = ledger

    def tier_codes(self) -> list[str]:
        """Every tier ever created, from the event store itself (not the read tables)."""
        codes, start = [], 1
        topics = [f"{TicketTier.Created.__module__}:{TicketTier.Created.__qualname__}"]
        while page := self.ledger.recorder.select_notifications(start, 1000, topics=topics):
            codes += [cast(TicketTier.Created, self.ledger.mapper.to_domain_event(n)).code for n in page]
            start = page[-1].id + 1
        return sorted(codes)

    def events(self, code: str, after: int = 0, limit: int | None = None) -> Iterator[Any]:
        yield from self.ledger.events.get(tier_id(code), gt=after or None, limit=limit)

    def history(self, code: str, after: int = 0, limit: int | None = None) -> list[AuditLine]:
        """The tier's events after version ``after``, with its figures after each."""
        replay = self._replay_to(code, after)
        return [replay.apply(event) for event in self.events(code, after, limit)]

    def _replay_to(self, code: str, version: int) -> Replay:
        """Running figures as at ``version`` (from the library's snapshot, if any)."""
        if not version:
            self._require(code)
            return Replay()
        tier = self._tier_at_version(code, version)
        return Replay(capacity=tier.capacity, price=tier.price, sold=tier.sold, held=tier.held, version=tier.version)

    def tier_at(self, code: str, version: int | None = None, at_time: datetime | None = None) -> TicketTier:
        """The tier as it was at ``version``, or just after its last event at or before ``at_time``."""
        if at_time is not None:
            last = None
            for event in self.events(code):
                if event.timestamp > at_time:
                    break
                last = event.originator_version
            if last is None:
                self._require(code)
                raise VersionNotFoundError(f"Tier {code} did not exist yet at {at_time.isoformat()}.")
            version = last
        return self._tier_at_version(code, version)

    def _tier_at_version(self, code: str, version: int | None) -> TicketTier:
        tier = self.ledger.aggregate(tier_id(code), TicketTier, version)
        if tier is None:
            self._require(code)
            raise VersionNotFoundError(f"Tier {code} has no version {version}.")
        if version is not None and tier.version != version:
            raise VersionNotFoundError(f"Tier {code} has no version {version}; its latest is {tier.version}.")
        return tier

    def _require(self, code: str) -> None:
        if not any(True for _ in self.events(code, limit=1)):
            raise TierNotFoundError(f"No tier {code!r}.")

    def verify(self, code: str, read_tables: Any = None) -> tuple[list[AuditLine], list[Problem]]:
        """Replay the whole history, check every invariant, and compare the outcome
        with the library's own reconstruction and, if given, the read tables."""
        replay = Replay()
        lines = [replay.apply(event) for event in self.events(code)]
        if not lines:
            raise TierNotFoundError(f"No tier {code!r}.")
        try:
            tier = self.ledger.get_tier(code)
        except OriginatorVersionError as error:  # a history with a gap or a fork: said, not raised
            replay.problems.append(Problem(replay.version, f"the library cannot rebuild the tier: {error!r}"))
            return lines, replay.problems
        if (tier.capacity, tier.price, tier.sold, tier.held, tier.version) != (
            replay.capacity,
            replay.price,
            replay.sold,
            replay.held,
            replay.version,
        ):
            replay.problems.append(Problem(replay.version, "the replay disagrees with the aggregate"))
        if sum(replay.confirmed.values()) != replay.sold:
            replay.problems.append(Problem(replay.version, "sold is not the sum of confirmed bookings"))
        replay.problems += replay.list_problems()
        scans = scans_of_tier(self.ledger, code)
        replay.problems += [Problem(None, text) for text in door_problems(scans, replay.booked, replay.released)]
        if read_tables is not None:
            replay.problems += self._cross_check(code, replay, read_tables)
            replay.problems += self._cross_check_door(code, scans, read_tables)
        return lines, replay.problems

    @staticmethod
    def _cross_check_door(code: str, scans: list[Any], view: Any) -> list[Problem]:
        row: dict[str, Any] = next((r for r in view.door_counts() if r["tier"] == code), {})
        table = (row.get("admitted", 0), row.get("conflicts", 0))
        counted = door_counts(scans)
        if table != (counted["admitted"], counted["conflicts"]):
            message = f"checkins rows for {code} count {table[0]} admitted, {table[1]} conflicts; the events say "
            return [Problem(None, message + f"{counted['admitted']}, {counted['conflicts']}")]
        return []

    @staticmethod
    def _cross_check(code: str, replay: Replay, view: Any) -> list[Problem]:
        problems = []
        row = view.get_tier(code)
        if row is None:
            return [Problem(None, f"availability has no row for {code}")]
        figures = (replay.capacity, replay.sold, replay.held, replay.available)
        if (row.capacity, row.sold, row.held, row.available) != figures:
            problems.append(
                Problem(
                    None,
                    f"availability row for {code} says capacity, sold, held, available "
                    f"{row.capacity}, {row.sold}, {row.held}, {row.available}; "
                    f"the events say {', '.join(map(str, figures))}",
                )
            )
        if row.price != replay.price:
            problems.append(
                Problem(None, f"availability row for {code} says price {row.price}; the events say {replay.price}")
            )
        bookings = {b.booking_id: b for b in view.bookings_of_tier(code)}
        for booking_id, (quantity, status) in replay.statuses().items():
            found = bookings.pop(booking_id, None)
            if found is None or (found.quantity, found.status) != (quantity, status):
                seen = "missing" if found is None else f"{found.quantity} ticket(s), {found.status}"
                problems.append(
                    Problem(None, f"bookings row {booking_id}: {seen}; the events say {quantity} ticket(s), {status}")
                )
        problems += [Problem(None, f"bookings row {b} has no sale in the events of {code}") for b in bookings]
        waiting = [UUID(row.entry_id) for row in view.places_of_tier(code) if row.status == "waiting"]
        if waiting != list(replay.waiting):
            told = f"waiting_list rows for {code} wait {len(waiting)}"
            problems.append(Problem(None, f"{told} in their order; the events say {len(replay.waiting)}"))
        return problems
