"""The waiting room's queue in Redis (``application/waiting_room/store.py`` says what each step
does): every step is one Lua script, atomic, on the Redis server's clock."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from redis.exceptions import NoScriptError

from application.booking.group_commit import GroupCommit, Waiting
from application.waiting_room.redis_connection import connect
from application.waiting_room.store import Gate, Place, QueueStore, RoomTerms

# How long a closed room's places stay in Redis (for a look by hand; its places answer "closed").
CLOSED_ROOM_TTL = 3600
# Per-period keys (ticks and latency counts) outlive their period by this much.
PERIOD_TTL = 120
# Connections to Redis per process (a gevent worker serves up to 1,000 requests at once),
# how long a request waits for one, and for Redis to answer (or accept a connection).
POOL_SIZE = 256
POOL_WAIT = 10.0
TIMEOUT = 2.0
# Joins that arrive while another is on its way to Redis go together in one pipeline, at most
# this many (docs/performance.md, "Joins"); one that waited this long for its batch is refused
# (never reached in a flood of 1,000 at once: a batch's round trip is milliseconds).
JOIN_BATCH = 64
JOIN_WAIT = 10.0


@dataclass(eq=False)
class PendingJoin(Waiting):
    """A join waiting for its batch; its ``outcome`` becomes ``(the script's reply,)``."""

    args: tuple[str, str, str, int, int]  # room, user, place, rank, pass seconds


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

local function place(id, g)
  local user = redis.call('HGET', owners, id)
  if not user then return nil end
  local arrival = redis.call('HGET', sequence, id)
  local position, rank
  if arrival then position, rank = redis.call('ZCARD', pre) + tonumber(arrival), '0'
  else position, rank = redis.call('ZRANK', pre, id) + 1, redis.call('ZSCORE', pre, id) end
  local admitted = redis.call('HGET', admits, id)
  if not admitted and now >= g.opens and position <= math.floor(g.frontier + 1e-9) then
    admitted = tostring(now)
    redis.call('HSET', admits, id, admitted)
  end
  return {id, user, tostring(position), arrival and '0' or '1', admitted or '', rank, unpack(reply(g))}
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
-- ARGV: now, user, new place id, rank, pass seconds. A newcomer is counted before the
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
local id = ARGV[3]
if now < opens then
  redis.call('ZADD', pre, ARGV[4], id)
else
  redis.call('HSET', sequence, id, redis.call('HINCRBY', gate, 'seq', 1))
end
redis.call('HSET', owners, id, ARGV[2])
redis.call('HSET', users, ARGV[2], id)
local made = place(id, advance())
table.insert(made, '1')
return made
"""

LUA_RESTORE = """
-- ARGV: now, place id, user, number ('' if not final), rank (store.py: QueueStore.restore).
local g = advance()
if not g then return nil end
local id = ARGV[2]
if not redis.call('HGET', owners, id) then
  if ARGV[4] == '' and now < g.opens then
    redis.call('ZADD', pre, ARGV[5], id)
  else
    local arrival = 0
    if ARGV[4] ~= '' then arrival = math.max(0, tonumber(ARGV[4]) - redis.call('ZCARD', pre)) end
    redis.call('HSET', sequence, id, arrival)
    if arrival > tonumber(redis.call('HGET', gate, 'seq')) then redis.call('HSET', gate, 'seq', arrival) end
  end
  redis.call('HSET', owners, id, ARGV[3])
  redis.call('HSETNX', users, ARGV[3], id)
  g = advance()
end
return place(id, g)
"""

LUA_PLACE = """
local g = advance()
if not g then return nil end
return place(ARGV[2], g)
"""


class RedisQueueStore(QueueStore):
    """The queue in Redis under ``prefix`` (unique per deployment, and per test run:
    the server may be shared). A room's keys are ``<prefix>:room:<room id>:...``."""

    def __init__(self, client: redis.Redis[bytes], prefix: str, clock: Callable[[], float] | None = None) -> None:
        self.client = client
        self.prefix = prefix
        self.clock = clock
        self._scripts = {
            name: client.register_script(LUA_COMMON + body)
            for name, body in (
                ("turn_on", LUA_TURN_ON),
                ("turn_off", LUA_TURN_OFF),
                ("set_rate", LUA_SET_RATE),
                ("gate", LUA_GATE),
                ("join", LUA_JOIN),
                ("place", LUA_PLACE),
                ("restore", LUA_RESTORE),
            )
        }
        self._secret: bytes | None = None
        self._joins: GroupCommit[PendingJoin] = GroupCommit(
            self._join_batch, JOIN_BATCH, JOIN_WAIT, unavailable=(redis.RedisError,)
        )

    @classmethod
    def from_url(cls, url: str, prefix: str) -> RedisQueueStore:
        """A client with at most ``POOL_SIZE`` connections, for which a request waits up to
        ``POOL_WAIT`` seconds in a flood (32 were too few: 503s), and which learns within
        ``TIMEOUT`` seconds that Redis is gone (503). ``url`` may name Sentinels
        (``application/waiting_room/redis_connection.py``)."""
        return cls(connect(url, max_connections=POOL_SIZE, wait=POOL_WAIT, timeout=TIMEOUT), prefix)

    def current(self) -> RoomTerms | None:
        text = self.client.get(f"{self.prefix}:current")
        return RoomTerms.from_json(text) if text else None

    def turn_on(self, terms: RoomTerms, rate: float, auto_rate: bool) -> bool:
        return bool(
            self._run(
                "turn_on", terms.room_id, terms.to_json(), repr(terms.opens_at), repr(float(rate)), flag(auto_rate)
            )
        )

    def turn_off(self, room_id: str) -> Gate | None:
        text = self.client.get(f"{self.prefix}:current")
        if not text or RoomTerms.from_json(text).room_id != room_id:
            return None
        return self._gate(self._run("turn_off", room_id, text, CLOSED_ROOM_TTL))

    def set_rate(self, room_id: str, rate: float, auto_rate: bool) -> Gate | None:
        return self._gate(self._run("set_rate", room_id, repr(float(rate)), flag(auto_rate)))

    def gate(self, room_id: str) -> Gate | None:
        return self._gate(self._run("gate", room_id))

    def join(
        self, room_id: str, user_id: str, place_id: str, rank: int, pass_seconds: int
    ) -> tuple[Place, bool] | None:
        (found,) = self._joins.submit(PendingJoin(args=(room_id, user_id, place_id, rank, pass_seconds)))
        place = self._place(found[:-1]) if found else None
        return (place, found[-1] == b"1") if place is not None else None

    def place(self, room_id: str, place_id: str) -> Place | None:
        return self._place(self._run("place", room_id, place_id))

    def restore(self, room_id: str, place_id: str, user_id: str, number: int | None, rank: int) -> Place | None:
        return self._place(self._run("restore", room_id, place_id, user_id, "" if number is None else number, rank))

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
            if self._secret is None:  # deleted between the two steps: only by hand
                raise redis.RedisError(f"{key} vanished; try again")
        return self._secret

    def _room(self, room_id: str) -> str:
        return f"{self.prefix}:room:{room_id}:"

    def _join_batch(self, batch: list[PendingJoin]) -> None:
        """Every join of ``batch`` in one round trip: their scripts in order, in one pipeline
        (not a transaction: each script is atomic, and one join's error is its own). A script
        Redis has forgotten (a restart, a failover) is run again alone, which loads it."""
        script = self._scripts["join"]
        pipe = self.client.pipeline(transaction=False)
        for pending in batch:
            keys, args = self._keys_and_args(*pending.args)
            pipe.evalsha(script.sha, len(keys), *keys, *args)  # type: ignore[attr-defined]
        for pending, reply in zip(batch, pipe.execute(raise_on_error=False), strict=True):
            if isinstance(reply, NoScriptError):
                try:
                    reply = self._run("join", *pending.args)
                except redis.RedisError as error:
                    reply = error
            pending.outcome = reply if isinstance(reply, Exception) else (reply,)

    def _run(self, script: str, room_id: str, *args: Any) -> Any:
        keys, all_args = self._keys_and_args(room_id, *args)
        return self._scripts[script](keys=keys, args=all_args)

    def _keys_and_args(self, room_id: str, *args: Any) -> tuple[list[str], list[Any]]:
        room = self._room(room_id)
        keys = [
            f"{self.prefix}:current",
            *(room + name for name in ("gate", "pre", "users", "owners", "seq", "admitted")),
        ]
        now = "" if self.clock is None else repr(self.clock())
        return keys, [now, *args]

    @staticmethod
    def _gate(reply: list[bytes] | None) -> Gate | None:
        if not reply:
            return None
        now, rate, auto, frontier, joined, passes = reply
        return Gate(float(now), float(rate), auto == b"1", float(frontier), int(float(joined)), int(passes))

    def _place(self, reply: list[bytes] | None) -> Place | None:
        if not reply:
            return None
        place_id, user, number, pre, admitted, rank, *answer = reply
        gate = self._gate(answer)
        if gate is None:  # a place always comes with its gate
            return None
        return Place(
            place_id.decode(),
            user.decode(),
            int(number),
            pre == b"1",
            float(admitted) if admitted else None,
            gate,
            int(rank),
        )


def flag(value: bool) -> str:
    return "1" if value else "0"
