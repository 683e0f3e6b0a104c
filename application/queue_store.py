"""Where the waiting room's queue lives: in this process (the SQLite default, one
process) or in Redis (any number of workers and hosts share one queue, and a restarted
worker loses nobody's place).

Both stores keep the same few facts per room and change them in atomic steps (a lock
here, a Lua script in Redis), so the policy built on them (``application/waiting_room.py``)
is the same for both:

- **Places.** A buyer who joins before the opening time goes into the *pre-queue* with a
  random rank drawn by the caller from a cryptographically secure source; at opening the
  pre-queue is served in rank order. Every place after that comes from a counter, in
  arrival order. A place is a number from 1: the pre-queue's places first (its rank
  order), then the counter's. One place per user: joining again returns the same ticket,
  unless its pass has lapsed, in which case the user gets a new place at the back.
- **The frontier**: how many places have been admitted. It grows at the room's rate from
  the opening time and never beyond the number who have joined, so unused admissions
  are not banked: a buyer who arrives after a quiet spell waits their turn at the rate
  like everyone else. It is brought up to date by every step that reads it, so no
  background process is needed. ``admitted(t) <= integral of rate dt since opening``.
- **Admission time**: when a ticket's holder first learned it was admitted; the pass
  is valid ``pass_seconds`` from then.

Redis takes its time from the Redis server (``TIME``), so hosts whose clocks differ
still agree on who came before the opening; both stores accept a clock for tests.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

# How long a closed room's places stay in Redis (for a look by hand; its tickets answer "closed").
CLOSED_ROOM_TTL = 3600
# Per-period keys (ticks and latency counts) outlive their period by this much.
PERIOD_TTL = 120
# Connections to Redis per process (a gevent worker serves up to 1,000 requests at once),
# how long a request waits for one, and for Redis to answer (or accept a connection).
POOL_SIZE = 256
POOL_WAIT = 10.0
TIMEOUT = 2.0


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
    passes: int  # tickets whose holder collected a pass

    @property
    def admitted(self) -> int:
        return math.floor(self.frontier + 1e-9)


@dataclass(frozen=True)
class Place:
    """One ticket's place, read together with the gate."""

    ticket_id: str
    user_id: str
    place: int  # 1 is served first
    pre_queue: bool  # joined before the opening (its place is final only from then)
    admitted_at: float | None
    gate: Gate


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
    def join(self, room_id: str, user_id: str, ticket_id: str, rank: int, pass_seconds: int) -> tuple[Place, bool] | None:
        """Give ``user_id`` a place (with ``ticket_id`` and pre-queue ``rank`` if it is new);
        returns the place and whether it is new. The newcomer counts among those who
        joined before the frontier moves: one who joins a queue that has kept up, when
        the rate has had time for one more, is admitted at once."""

    @abstractmethod
    def place(self, room_id: str, ticket_id: str) -> Place | None:
        """A ticket's place (``None`` if the room has no such ticket), marking it
        admitted the first time it is."""

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


@dataclass
class _MemoryRoom:
    terms: RoomTerms
    rate: float
    auto_rate: bool
    at: float
    frontier: float = 0.0
    pre: dict[str, int] = field(default_factory=dict)  # ticket -> rank
    sequence: dict[str, int] = field(default_factory=dict)  # ticket -> arrival number
    owners: dict[str, str] = field(default_factory=dict)  # ticket -> user
    users: dict[str, str] = field(default_factory=dict)  # user -> ticket
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

    def join(self, room_id: str, user_id: str, ticket_id: str, rank: int, pass_seconds: int) -> tuple[Place, bool] | None:
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
                room.pre[ticket_id] = rank
            else:
                room.sequence[ticket_id] = len(room.sequence) + 1
            room.owners[ticket_id] = user_id
            room.users[user_id] = ticket_id
            return self._place(room, ticket_id, self._advance(room, now)), True

    def place(self, room_id: str, ticket_id: str) -> Place | None:
        with self._lock:
            room = self._locked_room(room_id)
            if room is None or ticket_id not in room.owners:
                return None
            return self._place(room, ticket_id, self._advance(room, self.clock()))

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
        joined = len(room.pre) + len(room.sequence)
        since = max(room.at, room.terms.opens_at)
        if now > since:
            room.frontier, room.at = advance(room.frontier, room.rate, since, now, joined), now
        return self._gate(room, now)

    @staticmethod
    def _gate(room: _MemoryRoom, now: float) -> Gate:
        return Gate(now, room.rate, room.auto_rate, room.frontier, len(room.pre) + len(room.sequence),
                    len(room.admitted_at))

    def _place(self, room: _MemoryRoom, ticket_id: str, gate: Gate) -> Place:
        if ticket_id in room.sequence:
            place = len(room.pre) + room.sequence[ticket_id]
        elif gate.now < room.terms.opens_at:  # still open to newcomers: count who is ahead now
            rank = (room.pre[ticket_id], ticket_id)
            place = 1 + sum(1 for other, r in room.pre.items() if (r, other) < rank)
        else:  # final: ranked once (ties by ticket id, as Redis orders a sorted set)
            if room.pre_places is None:
                ranked = sorted(room.pre, key=lambda t: (room.pre[t], t))
                room.pre_places = {ticket: n for n, ticket in enumerate(ranked, 1)}
            place = room.pre_places[ticket_id]
        admitted = room.admitted_at.get(ticket_id)
        if admitted is None and gate.now >= room.terms.opens_at and place <= gate.admitted:
            admitted = room.admitted_at[ticket_id] = gate.now
            gate = self._gate(room, gate.now)
        return Place(ticket_id, room.owners[ticket_id], place, ticket_id in room.pre, admitted, gate)


# The Lua scripts share these definitions. KEYS: current, gate, pre, users, owners,
# sequence, admitted. ARGV[1]: the time, or '' for the Redis server's. Numbers go back
# to Python as strings (Redis would truncate a Lua number to an integer).
LUA_COMMON = """
local current, gate, pre, users, owners, sequence, admits = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local now
if ARGV[1] ~= '' then now = tonumber(ARGV[1]) else
  local t = redis.call('TIME'); now = tonumber(t[1]) + tonumber(t[2]) / 1000000 end

local function advance()
  local g = redis.call('HMGET', gate, 'opens', 'rate', 'frontier', 'at', 'seq', 'auto')
  if not g[1] then return nil end
  local opens, rate, frontier, at = tonumber(g[1]), tonumber(g[2]), tonumber(g[3]), tonumber(g[4])
  local joined = redis.call('ZCARD', pre) + tonumber(g[5])
  local since = math.max(at, opens)
  if now > since then
    frontier = math.min(frontier + rate * (now - since), joined)
    redis.call('HSET', gate, 'frontier', tostring(frontier), 'at', tostring(now))
  end
  return {opens = opens, rate = g[2], auto = g[6], frontier = frontier, joined = joined}
end

local function reply(g)
  return {tostring(now), g.rate, g.auto, tostring(g.frontier), tostring(g.joined), tostring(redis.call('HLEN', admits))}
end

local function place(ticket, g)
  local user = redis.call('HGET', owners, ticket)
  if not user then return nil end
  local arrival = redis.call('HGET', sequence, ticket)
  local position
  if arrival then position = redis.call('ZCARD', pre) + tonumber(arrival)
  else position = redis.call('ZRANK', pre, ticket) + 1 end
  local admitted = redis.call('HGET', admits, ticket)
  if not admitted and now >= g.opens and position <= math.floor(g.frontier + 1e-9) then
    admitted = tostring(now)
    redis.call('HSET', admits, ticket, admitted)
  end
  return {ticket, user, tostring(position), arrival and '0' or '1', admitted or '', unpack(reply(g))}
end
"""

LUA_TURN_ON = """
if redis.call('EXISTS', current) == 1 then return 0 end
redis.call('SET', current, ARGV[2])
redis.call('DEL', gate, pre, users, owners, sequence, admits)
redis.call('HSET', gate, 'opens', ARGV[3], 'rate', ARGV[4], 'auto', ARGV[5], 'frontier', '0', 'at', tostring(now), 'seq', '0')
return 1
"""

LUA_TURN_OFF = """
if redis.call('GET', current) ~= ARGV[2] then return nil end
local g = advance()
local final = reply(g)
redis.call('DEL', current, gate)  -- without its gate, no step finds the room any more
for i = 3, #KEYS do redis.call('EXPIRE', KEYS[i], tonumber(ARGV[3])) end
return final
"""

LUA_SET_RATE = """
local g = advance()
if not g then return nil end
redis.call('HSET', gate, 'rate', ARGV[2], 'auto', ARGV[3])
g.rate, g.auto = ARGV[2], ARGV[3]
return reply(g)
"""

LUA_GATE = """
local g = advance()
if not g then return nil end
return reply(g)
"""

LUA_JOIN = """
-- ARGV: now, user, new ticket id, rank, pass seconds. A newcomer is counted before the
-- frontier moves, so one who joins a queue that has kept up is admitted at once.
local opens = tonumber(redis.call('HGET', gate, 'opens'))
if not opens then return nil end
local existing = redis.call('HGET', users, ARGV[2])
if existing then
  local admitted = redis.call('HGET', admits, existing)
  if not admitted or now < tonumber(admitted) + tonumber(ARGV[5]) then
    local found = place(existing, advance())
    table.insert(found, '0')
    return found
  end
end
local ticket = ARGV[3]
if now < opens then
  redis.call('ZADD', pre, ARGV[4], ticket)
else
  redis.call('HSET', sequence, ticket, redis.call('HINCRBY', gate, 'seq', 1))
end
redis.call('HSET', owners, ticket, ARGV[2])
redis.call('HSET', users, ARGV[2], ticket)
local made = place(ticket, advance())
table.insert(made, '1')
return made
"""

LUA_PLACE = """
local g = advance()
if not g then return nil end
return place(ARGV[2], g)
"""


class RedisQueueStore(QueueStore):
    """The queue in Redis under ``prefix`` (unique per deployment, and per test run:
    the server may be shared). A room's keys are ``<prefix>:room:<room id>:...``."""

    def __init__(self, client: redis.Redis, prefix: str, clock: Callable[[], float] | None = None) -> None:
        self.client = client
        self.prefix = prefix
        self.clock = clock
        self._scripts = {name: client.register_script(LUA_COMMON + body) for name, body in (
            ("turn_on", LUA_TURN_ON), ("turn_off", LUA_TURN_OFF), ("set_rate", LUA_SET_RATE), ("gate", LUA_GATE),
            ("join", LUA_JOIN), ("place", LUA_PLACE))}
        self._secret: bytes | None = None

    @classmethod
    def from_url(cls, url: str, prefix: str) -> RedisQueueStore:
        """A client with at most ``POOL_SIZE`` connections, for which a request waits up to
        ``POOL_WAIT`` seconds in a flood (32 were too few: 503s), and which learns within
        ``TIMEOUT`` seconds that Redis is gone (503)."""
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=POOL_SIZE, timeout=POOL_WAIT, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        return cls(redis.Redis(connection_pool=pool), prefix)

    def current(self) -> RoomTerms | None:
        text = self.client.get(f"{self.prefix}:current")
        return RoomTerms.from_json(text) if text else None

    def turn_on(self, terms: RoomTerms, rate: float, auto_rate: bool) -> bool:
        return bool(self._run("turn_on", terms.room_id, terms.to_json(), repr(terms.opens_at), repr(float(rate)),
                              flag(auto_rate)))

    def turn_off(self, room_id: str) -> Gate | None:
        text = self.client.get(f"{self.prefix}:current")
        if not text or RoomTerms.from_json(text).room_id != room_id:
            return None
        return self._gate(self._run("turn_off", room_id, text, CLOSED_ROOM_TTL))

    def set_rate(self, room_id: str, rate: float, auto_rate: bool) -> Gate | None:
        return self._gate(self._run("set_rate", room_id, repr(float(rate)), flag(auto_rate)))

    def gate(self, room_id: str) -> Gate | None:
        return self._gate(self._run("gate", room_id))

    def join(self, room_id: str, user_id: str, ticket_id: str, rank: int, pass_seconds: int) -> tuple[Place, bool] | None:
        found = self._run("join", room_id, user_id, ticket_id, rank, pass_seconds)
        return (self._place(found[:-1]), found[-1] == b"1") if found else None

    def place(self, room_id: str, ticket_id: str) -> Place | None:
        return self._place(self._run("place", room_id, ticket_id))

    def claim_tick(self, room_id: str, period: int) -> bool:
        return bool(self.client.set(f"{self._room(room_id)}tick:{period}", 1, nx=True, ex=PERIOD_TTL))

    def count_latency(self, room_id: str, period: int, bucket: int) -> None:
        key = f"{self._room(room_id)}latency:{period}"
        self.client.pipeline(transaction=False).hincrby(key, str(bucket), 1).expire(key, PERIOD_TTL).execute()

    def latencies(self, room_id: str, period: int) -> dict[int, int]:
        counts = self.client.hgetall(f"{self._room(room_id)}latency:{period}")
        return {int(bucket): int(count) for bucket, count in counts.items()}

    def secret(self) -> bytes:
        """Made once, at random, by whichever process needs it first (``SET NX``);
        whoever can read it can also rewrite the queue, so it exposes nothing more."""
        if self._secret is None:
            key = f"{self.prefix}:pass-secret"
            self.client.set(key, secrets.token_hex(32), nx=True)
            self._secret = self.client.get(key)
        return self._secret

    def _room(self, room_id: str) -> str:
        return f"{self.prefix}:room:{room_id}:"

    def _run(self, script: str, room_id: str, *args: Any) -> Any:
        room = self._room(room_id)
        keys = [f"{self.prefix}:current", *(room + name for name in ("gate", "pre", "users", "owners", "seq", "admitted"))]
        now = "" if self.clock is None else repr(self.clock())
        return self._scripts[script](keys=keys, args=[now, *args])

    @staticmethod
    def _gate(reply: list[bytes] | None) -> Gate | None:
        if not reply:
            return None
        now, rate, auto, frontier, joined, passes = reply
        return Gate(float(now), float(rate), auto == b"1", float(frontier), int(float(joined)), int(passes))

    def _place(self, reply: list[bytes] | None) -> Place | None:
        if not reply:
            return None
        ticket, user, position, pre, admitted, *gate = reply
        return Place(ticket.decode(), user.decode(), int(position), pre == b"1",
                     float(admitted) if admitted else None, self._gate(gate))


def flag(value: bool) -> str:
    return "1" if value else "0"
