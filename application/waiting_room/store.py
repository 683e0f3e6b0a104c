"""Where the waiting room's queue lives, as the policy sees it: the atomic steps every store
offers and what they return. Two stores: in this process (``memory_store.py``, the SQLite
default, one process) and in Redis (``redis_store.py``: any number of workers and hosts
share one queue, and a restarted worker loses nobody's place).

Both stores keep the same few facts per room and change them in atomic steps (a lock
here, a Lua script in Redis), so the policy built on them (``application/waiting_room/rooms.py``)
is the same for both:

- **Places.** A buyer who joins before the opening time goes into the *pre-queue* with a
  random rank drawn by the caller from a cryptographically secure source; at opening the
  pre-queue is served in rank order. Every place after that comes from a counter, in
  arrival order. A place is a number from 1: the pre-queue's places first (its rank
  order), then the counter's. One place per user: joining again returns the same place,
  unless its pass has lapsed, in which case the user gets a new place at the back.
- **The frontier**: how many places have been admitted. It grows at the room's rate from
  the opening time and never beyond the number who have joined, so unused admissions
  are not banked: a buyer who arrives after a quiet spell waits their turn at the rate
  like everyone else. It is brought up to date by every step that reads it, so no
  background process is needed. ``admitted(t) <= integral of rate dt since opening``.
- **Admission time**: when a place's holder first learned it was admitted; the pass
  is valid ``pass_seconds`` from then.

Redis takes its time from the Redis server (``TIME``), so hosts whose clocks differ
still agree on who came before the opening; both stores accept a clock for tests.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class RoomTerms:
    """What stays fixed while a room is on."""

    room_id: str
    tiers: tuple[str, ...] | None  # None: every tier
    opens_at: float  # seconds since the epoch
    pass_seconds: int
    start_rate: float  # the rate it was turned on with (the automatic rate's step is a share of it)
    max_rate: float  # the automatic rate's ceiling

    def gates(self, tier: str) -> bool:
        """Whether booking ``tier`` needs a pass while this room is on."""
        return self.tiers is None or tier in self.tiers

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> RoomTerms:
        data = json.loads(text)
        tiers = data.pop("tiers")
        return cls(tiers=tuple(tiers) if tiers is not None else None, **data)


@dataclass(frozen=True)
class Gate:
    """The room's admission state at ``now``."""

    now: float
    rate: float
    auto_rate: bool
    frontier: float  # places admitted (fractional: the next one is on its way)
    joined: int  # places handed out
    passes: int  # places whose holder collected a pass

    @property
    def admitted(self) -> int:
        return math.floor(self.frontier + 1e-9)


@dataclass(frozen=True)
class Place:
    """A buyer's place in the queue, read together with the gate. Its id is what the buyer
    holds (the API's "queue ticket")."""

    place_id: str
    user_id: str
    number: int  # 1 is served first
    pre_queue: bool  # joined before the opening (its place is final only from then)
    admitted_at: float | None
    gate: Gate
    rank: int = 0  # the pre-queue's draw (0 after the opening)


class QueueStore(ABC):
    """The atomic steps on a room's queue. ``room_id`` names the room; every step on a
    room that is not on (any more) returns ``None``."""

    @abstractmethod
    def current(self) -> RoomTerms | None:
        """The room that is on, if any."""

    @abstractmethod
    def turn_on(self, terms: RoomTerms, rate: float, auto_rate: bool) -> bool:
        """Make ``terms`` the room that is on; ``False`` if another one is on already."""

    @abstractmethod
    def turn_off(self, room_id: str) -> Gate | None:
        """Turn the room off; its final gate, or ``None`` if it was not on."""

    @abstractmethod
    def set_rate(self, room_id: str, rate: float, auto_rate: bool) -> Gate | None:
        """Admit at ``rate`` from now on (what the old rate admitted until now stays)."""

    @abstractmethod
    def gate(self, room_id: str) -> Gate | None:
        """The gate, brought up to date."""

    @abstractmethod
    def join(
        self, room_id: str, user_id: str, place_id: str, rank: int, pass_seconds: int
    ) -> tuple[Place, bool] | None:
        """Give ``user_id`` a place (with ``place_id`` and pre-queue ``rank`` if it is new);
        returns the place and whether it is new. The newcomer counts among those who
        joined before the frontier moves: one who joins a queue that has kept up, when
        the rate has had time for one more, is admitted at once."""

    @abstractmethod
    def place(self, room_id: str, place_id: str) -> Place | None:
        """A place (``None`` if the room has no such place), marking it
        admitted the first time it is."""

    @abstractmethod
    def restore(self, room_id: str, place_id: str, user_id: str, number: int | None, rank: int) -> Place | None:
        """Put back a place the store lost (a Redis failover loses the last writes), as its
        signed ticket says, and return it (``None`` if the room is not on); a place the store
        knows is returned as it is. At ``number`` if given (the counter moves past it, so no
        later newcomer is given it again); else into the pre-queue with ``rank`` before the
        opening, or behind every drawn place after it (its draw is lost with the pre-queue's
        order already final). The user's place is this one unless they have another."""

    @abstractmethod
    def claim_tick(self, room_id: str, period: int) -> bool:
        """``True`` for exactly one caller per room and period, across all processes."""

    @abstractmethod
    def count_latency(self, room_id: str, period: int, bucket: int) -> None:
        """Count one admitted buyer's booking in a latency bucket of a period."""

    @abstractmethod
    def latencies(self, room_id: str, period: int) -> dict[int, int]:
        """The counts per latency bucket of a period, from every process."""

    @abstractmethod
    def secret(self) -> bytes:
        """The key that signs passes, the same in every process that shares the store."""


def advance(frontier: float, rate: float, since: float, now: float, joined: int) -> float:
    """The frontier at ``now``: ``rate`` more places a second since ``since``, but never
    more than have joined (the Lua scripts below say the same in Lua)."""
    return min(frontier + rate * (now - since), joined) if now > since else frontier
