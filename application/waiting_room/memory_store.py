"""The waiting room's queue in this process (``application/waiting_room/store.py`` says what each
step does): for a single server process, the SQLite default."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from application.waiting_room.store import Gate, Place, QueueStore, RoomTerms, advance


@dataclass
class _MemoryRoom:
    terms: RoomTerms
    rate: float
    auto_rate: bool
    at: float
    frontier: float = 0.0
    pre: dict[str, int] = field(default_factory=dict)  # place -> rank
    sequence: dict[str, int] = field(default_factory=dict)  # place -> arrival number
    counter: int = 0  # the last arrival number given
    owners: dict[str, str] = field(default_factory=dict)  # place -> user
    users: dict[str, str] = field(default_factory=dict)  # user -> place
    admitted_at: dict[str, float] = field(default_factory=dict)
    pre_places: dict[str, int] | None = None  # the pre-queue's places, once final (from the opening)


class MemoryQueueStore(QueueStore):
    """The queue in this process, behind one lock: for a single server process (the
    SQLite default). Its passes are signed with a key made at start, so they end with it."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._room: _MemoryRoom | None = None
        self._ticks: set[tuple[str, int]] = set()
        self._latencies: dict[tuple[str, int], dict[int, int]] = {}
        self._secret = secrets.token_bytes(32)

    def current(self) -> RoomTerms | None:
        with self._lock:
            return self._room.terms if self._room else None

    def turn_on(self, terms: RoomTerms, rate: float, auto_rate: bool) -> bool:
        with self._lock:
            if self._room is not None:
                return False
            self._room = _MemoryRoom(terms, rate, auto_rate, at=self.clock())
            return True

    def turn_off(self, room_id: str) -> Gate | None:
        with self._lock:
            room = self._locked_room(room_id)
            if room is None:
                return None
            gate = self._advance(room, self.clock())
            self._room = None
            return gate

    def set_rate(self, room_id: str, rate: float, auto_rate: bool) -> Gate | None:
        with self._lock:
            room = self._locked_room(room_id)
            if room is None:
                return None
            self._advance(room, self.clock())
            room.rate, room.auto_rate = rate, auto_rate
            return self._gate(room, self.clock())

    def gate(self, room_id: str) -> Gate | None:
        with self._lock:
            room = self._locked_room(room_id)
            return self._advance(room, self.clock()) if room else None

    def join(
        self, room_id: str, user_id: str, place_id: str, rank: int, pass_seconds: int
    ) -> tuple[Place, bool] | None:
        with self._lock:
            room = self._locked_room(room_id)
            if room is None:
                return None
            now = self.clock()
            existing = room.users.get(user_id)
            if existing is not None:
                admitted = room.admitted_at.get(existing)
                if admitted is None or now < admitted + pass_seconds:
                    return self._place(room, existing, self._advance(room, now)), False
            if now < room.terms.opens_at:
                room.pre[place_id] = rank
            else:
                room.counter += 1
                room.sequence[place_id] = room.counter
            room.owners[place_id] = user_id
            room.users[user_id] = place_id
            return self._place(room, place_id, self._advance(room, now)), True

    def place(self, room_id: str, place_id: str) -> Place | None:
        with self._lock:
            room = self._locked_room(room_id)
            if room is None or place_id not in room.owners:
                return None
            return self._place(room, place_id, self._advance(room, self.clock()))

    def restore(self, room_id: str, place_id: str, user_id: str, number: int | None, rank: int) -> Place | None:
        with self._lock:
            room = self._locked_room(room_id)
            if room is None:
                return None
            now = self.clock()
            if place_id not in room.owners:
                if number is None and now < room.terms.opens_at:
                    room.pre[place_id] = rank
                else:
                    arrival = max(0, number - len(room.pre)) if number is not None else 0
                    room.sequence[place_id] = arrival
                    room.counter = max(room.counter, arrival)
                room.owners[place_id] = user_id
                room.users.setdefault(user_id, place_id)
            return self._place(room, place_id, self._advance(room, now))

    def claim_tick(self, room_id: str, period: int) -> bool:
        with self._lock:
            if (room_id, period) in self._ticks:
                return False
            self._ticks.add((room_id, period))
            return True

    def count_latency(self, room_id: str, period: int, bucket: int) -> None:
        with self._lock:
            counts = self._latencies.setdefault((room_id, period), {})
            counts[bucket] = counts.get(bucket, 0) + 1

    def latencies(self, room_id: str, period: int) -> dict[int, int]:
        with self._lock:
            return dict(self._latencies.get((room_id, period), {}))

    def secret(self) -> bytes:
        return self._secret

    def _locked_room(self, room_id: str) -> _MemoryRoom | None:
        room = self._room
        return room if room is not None and room.terms.room_id == room_id else None

    def _advance(self, room: _MemoryRoom, now: float) -> Gate:
        joined = len(room.pre) + room.counter
        since = max(room.at, room.terms.opens_at)
        if now > since:
            room.frontier, room.at = advance(room.frontier, room.rate, since, now, joined), now
        return self._gate(room, now)

    @staticmethod
    def _gate(room: _MemoryRoom, now: float) -> Gate:
        return Gate(now, room.rate, room.auto_rate, room.frontier, len(room.pre) + room.counter, len(room.admitted_at))

    def _place(self, room: _MemoryRoom, place_id: str, gate: Gate) -> Place:
        if place_id in room.sequence:
            number = len(room.pre) + room.sequence[place_id]
        elif gate.now < room.terms.opens_at:  # still open to newcomers: count who is ahead now
            rank = (room.pre[place_id], place_id)
            number = 1 + sum(1 for other, r in room.pre.items() if (r, other) < rank)
        else:  # final: ranked once (ties by place id, as Redis orders a sorted set)
            if room.pre_places is None:
                ranked = sorted(room.pre, key=lambda t: (room.pre[t], t))
                room.pre_places = {other: n for n, other in enumerate(ranked, 1)}
            number = room.pre_places[place_id]
        admitted = room.admitted_at.get(place_id)
        if admitted is None and gate.now >= room.terms.opens_at and number <= gate.admitted:
            admitted = room.admitted_at[place_id] = gate.now
            gate = self._gate(room, gate.now)
        pre = place_id in room.pre
        return Place(place_id, room.owners[place_id], number, pre, admitted, gate, room.pre[place_id] if pre else 0)
