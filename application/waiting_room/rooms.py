"""The on-sale waiting room: join, follow your place, get a pass, book with it.

Off by default. An admin turns a room on for some tiers (or all) with an opening time
and an admission rate, fixed or automatic (``application/waiting_room/admission_rate.py``). While it
is on, booking or holding those tiers needs a pass (``application/waiting_room/passes.py``),
which the queue gives to a buyer whose turn has come. The queue's state is in a
``QueueStore`` (``application/waiting_room/store.py``); what an audit needs goes to the
``WaitingRoomLog`` as events: opened, every rate change and why, the counts of joined
and admitted buyers every ``ticks.COUNT_EVERY_SECONDS`` while it is on, and closed.

No background process: the automatic rate and the periodic counts are done by
whichever request first arrives in a new period and wins the store's claim on it.

Changes are recorded in the log first and then applied to the store: a retry after a
failure in between records nothing twice (a room never records a change that changes
nothing) and applies what was left.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from application.errors import (
    PlaceNotFoundError,
    WaitingRoomAlreadyOnError,
    WaitingRoomNotFoundError,
    WaitingRoomOffError,
)
from application.recent import LastKnown
from application.waiting_room import admission_rate
from application.waiting_room.known_places import KnownPlaces
from application.waiting_room.log import RoomEvent, WaitingRoomLog
from application.waiting_room.passes import PassSigner
from application.waiting_room.places import CLOSED, PlaceStatus, describe, final_number, from_epoch
from application.waiting_room.store import Gate, Place, QueueStore, RoomTerms
from application.waiting_room.tickets import PlaceTicket, TicketSigner
from application.waiting_room.ticks import RoomTicks
from domain.waiting_room import WaitingRoom, check_rate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoomStatus:
    room_id: str
    tiers: tuple[str, ...] | None
    opens_at: datetime
    opened: bool  # the opening time has passed
    rate: float
    auto_rate: bool
    max_rate: float
    pass_seconds: int
    joined: int
    admitted: int
    passes: int

    @property
    def waiting(self) -> int:
        return self.joined - self.admitted


@dataclass(frozen=True)
class Frontier:
    """What every waiting buyer needs to know, the same for all of them: a buyer whose
    ticket's number is at most ``admitted`` may collect their pass."""

    room_id: str
    opens_at: datetime
    admitted: int
    joined: int
    rate: float
    sold_out: bool


class WaitingRoomService:
    """The room's use cases over a queue store and the room log.

    ``sold_out(tiers)`` says whether those tiers (``None``: all) have nothing left to
    sell or hold back; ``terms_seconds`` is how long a process may go on using the room's
    terms it last read before reading them again (so a booking costs no look-up), and
    ``keep_seconds`` how long after that read it may still use them, read again in the
    background, while the store does not answer (a Redis failover): bookings and holds, of
    any tier, go on without the store for that long (``application/recent.py``: ``LastKnown``).
    The log is made on first use: a server whose room is never turned on never opens it.
    """

    def __init__(
        self,
        store: QueueStore,
        open_log: Callable[[], WaitingRoomLog],
        sold_out: Callable[[tuple[str, ...] | None], bool],
        target_p95_ms: float,
        terms_seconds: float = 1.0,
        keep_seconds: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.sold_out = sold_out
        self.target_p95_ms = target_p95_ms
        self.clock = clock
        self._open_log = open_log
        self._log: WaitingRoomLog | None = None
        self._signer: PassSigner | None = None
        self._tickets: TicketSigner | None = None
        self._lock = threading.Lock()
        self._terms = LastKnown(self._read_terms, terms_seconds, keep_seconds)
        self._known = KnownPlaces(store, clock=clock)
        self._ticks = RoomTicks(store, lambda: self.log, clock, target_p95_ms)

    @property
    def log(self) -> WaitingRoomLog:
        with self._lock:
            if self._log is None:
                self._log = self._open_log()
            return self._log

    def close(self) -> None:
        if self._log is not None:
            self._log.close()

    # Administration.

    def turn_on(
        self,
        tiers: list[str] | None,
        opens_at: datetime | None,
        rate: float,
        auto_rate: bool,
        max_rate: float,
        pass_seconds: int,
    ) -> RoomStatus:
        """Turn a room on; ``WaitingRoomAlreadyOnError`` if one is on. An automatic rate
        starts at ``rate`` or ``max_rate``, whichever is lower, and never goes above the latter."""
        check_rate(max_rate)
        rate = min(rate, max_rate) if auto_rate else rate
        if self.store.current() is not None:
            raise WaitingRoomAlreadyOnError("A waiting room is on already; close it first.")
        room = WaitingRoom.open(tiers, opens_at or from_epoch(self.clock()), rate, auto_rate, pass_seconds)
        self.log.open(room)
        terms = RoomTerms(
            str(room.id),
            tuple(room.tiers) if room.tiers is not None else None,
            room.opens_at.timestamp(),
            pass_seconds,
            room.rate,
            float(max_rate),
        )
        self.store.secret()  # the signing key made now, long before a failover could lose it with the last writes
        if not self.store.turn_on(terms, room.rate, auto_rate):  # another admin was quicker
            self.log.change(room.id, lambda r: r.close(0, 0, 0))
            raise WaitingRoomAlreadyOnError("A waiting room is on already; close it first.")
        self._terms.forget()
        return self._status(terms, self._applied(self.store.gate(terms.room_id)))

    def change_rate(self, rate: float, auto_rate: bool) -> RoomStatus:
        terms = self._current()
        rate = min(rate, terms.max_rate) if auto_rate else rate
        self.log.change(uuid.UUID(terms.room_id), lambda room: room.change_rate(rate, auto_rate, "set by an admin"))
        return self._status(terms, self._applied(self.store.set_rate(terms.room_id, rate, auto_rate)))

    def turn_off(self) -> RoomStatus:
        """Turn the room off, recording the final counts; bookings need no pass from now on."""
        terms = self._current()
        gate = self._applied(self.store.gate(terms.room_id))
        room_id = uuid.UUID(terms.room_id)
        if self.log.is_open(room_id):  # else a retry: closed in the log, still on in the store
            self.log.change(room_id, lambda r: r.close(gate.joined, gate.admitted, gate.passes))
        final = self.store.turn_off(terms.room_id) or gate
        self._terms.forget()
        return self._status(terms, final)

    def status(self) -> RoomStatus | None:
        terms = self.store.current()
        if terms is None:
            return None
        gate = self.store.gate(terms.room_id)
        return self._status(terms, gate) if gate else None

    def events(self, room_id: str) -> list[RoomEvent]:
        try:
            return self.log.trail(uuid.UUID(room_id))
        except ValueError:
            raise WaitingRoomNotFoundError(f"No waiting room {room_id!r}.") from None

    # Buyers.

    def join(self, user_id: str) -> tuple[PlaceStatus, bool]:
        """The user's place (the one they have, unless its pass lapsed) and whether it is new.
        The room's terms may be a moment old (``terms_seconds``): a room turned off
        meanwhile is found gone by the store's step, which then changes nothing."""
        terms = self._terms_cached() or self._current()
        self._ticks.tick(terms)
        place_id = f"{terms.room_id}.{secrets.token_urlsafe(16)}"
        joined = self.store.join(terms.room_id, user_id, place_id, secrets.randbits(52), terms.pass_seconds)
        if joined is None:
            raise WaitingRoomOffError("The waiting room has just been turned off: book directly.")
        place, new = joined
        self._known.remember(place, terms.opens_at)
        return self._describe(terms, place), new

    def place(self, ticket_id: str) -> PlaceStatus:
        """The place ``ticket_id`` holds; one the store has lost (a Redis failover) is put back as
        the signed ticket says (``application/waiting_room/tickets.py``)."""
        ticket = self.tickets.read(ticket_id)
        if ticket is None:
            raise PlaceNotFoundError(f"No queue ticket {ticket_id!r}.")
        room_id = place_room(ticket.place_id)
        terms = self._terms_cached()
        if terms is None or terms.room_id != room_id:  # maybe news this process has not heard yet
            terms = self._terms_now()
        if terms is None or terms.room_id != room_id:
            return PlaceStatus(ticket_id, None, CLOSED, "The waiting room is off: book directly.")
        self._ticks.tick(terms)
        place = (
            self._known.look(room_id, ticket.place_id, terms.opens_at)
            or self.store.place(room_id, ticket.place_id)
            or self.store.restore(room_id, ticket.place_id, ticket.user_id, ticket.number, ticket.rank)
        )
        if place is None:  # turned off meanwhile
            self._terms_now()
            return PlaceStatus(ticket_id, None, CLOSED, "The waiting room is off: book directly.")
        self._known.remember(place, terms.opens_at)
        return self._describe(terms, place)

    def frontier(self) -> Frontier | None:
        """The room's frontier from this process's copy of the gate (``known_places.py``: read from
        the store at most every ``GATE_SECONDS``), touching no buyer's place; ``None``: no room."""
        terms = self._terms_cached()
        gate = self._known.gate(terms.room_id, terms.opens_at) if terms is not None else None
        if terms is None or gate is None:
            return None
        return Frontier(
            terms.room_id, from_epoch(terms.opens_at), gate.admitted, gate.joined, gate.rate, self.sold_out(terms.tiers)
        )

    def progress(self) -> tuple[int, bool]:
        """For the place streams (``application/waiting_room/place_watch.py``): the places admitted so far
        and whether the sale is over for everyone still waiting (the room's tiers sold out, or the room off)."""
        frontier = self.frontier()
        return (0, True) if frontier is None else (frontier.admitted, frontier.sold_out)

    def check_pass(self, token: str | None, user_id: str, tier: str) -> bool:
        """Raise unless booking ``tier`` for ``user_id`` may go ahead; return whether a
        room gates it (its duration then counts towards the automatic rate)."""
        terms = self._terms_cached()
        if terms is None or not terms.gates(tier):
            return False
        self.signer.check(token, terms.room_id, user_id, self.clock())
        return True

    def booked(self, seconds: float) -> None:
        """Count an admitted buyer's booking or hold, which took ``seconds``, for the automatic rate."""
        terms = self._terms_cached()
        if terms is not None and not self._terms.failing:  # else the store is not answering: not timed
            period = int(self.clock() // admission_rate.PERIOD_SECONDS)
            self.store.count_latency(terms.room_id, period, admission_rate.bucket_of(seconds * 1000))

    @property
    def tickets(self) -> TicketSigner:
        if self._tickets is None:
            self._tickets = TicketSigner(self.store.secret())
        return self._tickets

    @property
    def signer(self) -> PassSigner:
        if self._signer is None:
            self._signer = PassSigner(self.store.secret())
        return self._signer

    def _read_terms(self) -> RoomTerms | None:
        """The room that is on and, with one on, the key its passes are signed with, read
        together: a process that knows the room can check its passes without the store."""
        terms = self.store.current()
        if terms is not None and self._signer is None:
            self._signer = PassSigner(self.store.secret())
        return terms

    # Helpers.

    def _describe(self, terms: RoomTerms, place: Place) -> PlaceStatus:
        ticket = PlaceTicket(place.place_id, place.user_id, final_number(place, terms.opens_at), place.rank)
        return describe(terms, place, self.tickets.sign(ticket), self.sold_out(terms.tiers), self.signer.sign)

    def _status(self, terms: RoomTerms, gate: Gate) -> RoomStatus:
        return RoomStatus(
            terms.room_id,
            terms.tiers,
            from_epoch(terms.opens_at),
            gate.now >= terms.opens_at,
            gate.rate,
            gate.auto_rate,
            terms.max_rate,
            terms.pass_seconds,
            gate.joined,
            gate.admitted,
            gate.passes,
        )

    def _current(self) -> RoomTerms:
        terms = self._terms_now()
        if terms is None:
            raise WaitingRoomOffError("No waiting room is on: book directly.")
        return terms

    def _terms_now(self) -> RoomTerms | None:
        return self._terms.refresh()

    def _terms_cached(self) -> RoomTerms | None:
        return self._terms.get()

    @staticmethod
    def _applied(gate: Gate | None) -> Gate:
        if gate is None:
            raise WaitingRoomOffError("The waiting room has just been turned off.")
        return gate


def place_room(place_id: str) -> str:
    """The room a place id names (``<room id>.<random>``), or ``PlaceNotFoundError``."""
    room_id, _, rest = place_id.partition(".")
    try:
        if rest and str(uuid.UUID(room_id)) == room_id:
            return room_id
    except ValueError:
        pass
    raise PlaceNotFoundError(f"No queue ticket {place_id!r}.")
