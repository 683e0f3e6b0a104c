"""The queue stores' atomic steps, on both kinds (in process and Redis): places, the
pre-queue, one place per user, the frontier, and what processes share."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from application.waiting_room.redis_store import (
    POOL_SIZE,
    POOL_WAIT,
    TIMEOUT,
    RedisQueueStore,
)
from application.waiting_room.store import QueueStore, RoomTerms
from tests.queue_stores import (  # noqa: F401
    REDIS_URL,
    FakeClock,
    queue_kind,
    redis_client,
    redis_prefix,
    store_of_kind,
)

OPENS = 1_000_010.0
PASS_SECONDS = 30


def terms(room_id: str = "room-1", opens_at: float = OPENS) -> RoomTerms:
    return RoomTerms(room_id, ("VIP",), opens_at, PASS_SECONDS, 2.0, 100.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(queue_kind: str, clock: FakeClock) -> Iterator[QueueStore]:
    with store_of_kind(queue_kind, clock) as store:
        assert store.turn_on(terms(), 2.0, False)
        yield store


def join(store: QueueStore, user: str, rank: int = 0) -> tuple[int, bool]:
    place, new = store.join("room-1", user, f"t-{user}-{secrets.token_hex(4)}", rank, PASS_SECONDS)
    return place.number, new


def test_only_one_room_is_on_at_a_time(store: QueueStore):
    assert not store.turn_on(terms("room-2"), 1.0, False)
    assert store.current() == terms()
    assert store.turn_off("room-2") is None and store.current() == terms()
    assert store.turn_off("room-1") is not None
    assert store.current() is None
    assert store.join("room-1", "alice", "t", 0, PASS_SECONDS) is None


def test_after_the_opening_places_are_given_in_arrival_order(store: QueueStore, clock: FakeClock):
    clock.now = OPENS + 1
    assert [join(store, user)[0] for user in ("a", "b", "c", "d")] == [1, 2, 3, 4]


def test_the_pre_queue_is_served_in_rank_order_then_the_later_arrivals(store: QueueStore, clock: FakeClock):
    ranks = {"a": 30, "b": 10, "c": 20}
    ids = {
        user: store.join("room-1", user, f"t-{user}", rank, PASS_SECONDS)[0].place_id for user, rank in ranks.items()
    }
    clock.now = OPENS
    late = store.join("room-1", "d", "t-d", 0, PASS_SECONDS)[0]
    places = {user: store.place("room-1", place_id).number for user, place_id in ids.items()}
    assert places == {"b": 1, "c": 2, "a": 3}
    assert (late.number, late.pre_queue) == (4, False)
    assert all(store.place("room-1", t).pre_queue for t in ids.values())


def test_joining_again_keeps_the_users_place(store: QueueStore, clock: FakeClock):
    clock.now = OPENS
    first, _ = store.join("room-1", "alice", "t-1", 0, PASS_SECONDS)
    join(store, "bob")
    again, new = store.join("room-1", "alice", "t-2", 0, PASS_SECONDS)
    assert (again.place_id, again.number, new) == ("t-1", 1, False)
    assert again.gate.joined == 2


def test_a_user_whose_pass_lapsed_joins_again_at_the_back(store: QueueStore, clock: FakeClock):
    clock.now = OPENS
    store.join("room-1", "alice", "t-1", 0, PASS_SECONDS)
    join(store, "bob")
    clock.advance(1)  # rate 2/s: both admitted
    assert store.place("room-1", "t-1").admitted_at == clock.now
    clock.advance(PASS_SECONDS - 0.001)
    assert store.join("room-1", "alice", "t-2", 0, PASS_SECONDS)[0].place_id == "t-1"  # not lapsed yet
    clock.advance(0.001)
    rejoined, new = store.join("room-1", "alice", "t-2", 0, PASS_SECONDS)
    assert (rejoined.place_id, rejoined.number, rejoined.admitted_at, new) == ("t-2", 3, None, True)


def test_the_frontier_grows_at_the_rate_from_the_opening(store: QueueStore, clock: FakeClock):
    for user in "abcdefghij":  # ten in the pre-queue
        join(store, user, rank=ord(user))
    clock.now = OPENS - 1
    assert store.gate("room-1").frontier == 0
    clock.now = OPENS + 2.5
    assert store.gate("room-1").frontier == pytest.approx(5.0)
    assert store.gate("room-1").admitted == 5
    clock.now = OPENS + 100
    assert store.gate("room-1").frontier == 10  # never beyond those who joined


def test_one_who_joins_a_queue_that_kept_up_is_admitted_at_once_at_most_one_per_interval(store, clock):
    clock.now = OPENS + 10  # at 2/s, time for many
    first = store.join("room-1", "a", "t-a", 0, PASS_SECONDS)[0]
    second = store.join("room-1", "b", "t-b", 0, PASS_SECONDS)[0]  # the same instant: no time for another
    assert (first.admitted_at, second.admitted_at) == (clock.now, None)
    clock.advance(0.5)
    assert store.join("room-1", "c", "t-c", 0, PASS_SECONDS)[0].admitted_at is None  # b's turn came first
    assert store.place("room-1", "t-b").admitted_at == clock.now


def test_unused_admissions_are_not_banked(store: QueueStore, clock: FakeClock):
    clock.now = OPENS
    join(store, "a")
    clock.advance(60)  # a quiet minute at 2/s
    assert store.gate("room-1").frontier == 1
    late = [store.join("room-1", u, f"t-{u}", 0, PASS_SECONDS)[0].place_id for u in "bcdef"]
    clock.advance(1)
    admitted = [store.place("room-1", t).admitted_at is not None for t in late]
    assert admitted == [True, True, False, False, False]  # 2 a second, as for anyone


def test_a_rate_change_keeps_what_the_old_rate_admitted(store: QueueStore, clock: FakeClock):
    clock.now = OPENS
    for user in "abcdefghijklmnopqrst":
        join(store, user)
    clock.advance(3)  # 6 at 2/s
    gate = store.set_rate("room-1", 0.5, True)
    assert (gate.frontier, gate.rate, gate.auto_rate) == (pytest.approx(6.0), 0.5, True)
    clock.advance(4)  # 2 more at 0.5/s
    assert store.gate("room-1").frontier == pytest.approx(8.0)
    assert store.set_rate("room-2", 1.0, False) is None


def test_a_place_is_marked_admitted_once_when_its_holder_first_looks(store: QueueStore, clock: FakeClock):
    clock.now = OPENS
    joined = store.join("room-1", "alice", "t-1", 0, PASS_SECONDS)[0]
    assert joined.admitted_at is None
    clock.advance(5)
    seen = store.place("room-1", "t-1")
    clock.advance(5)
    assert store.place("room-1", "t-1").admitted_at == seen.admitted_at == OPENS + 5
    assert store.gate("room-1").passes == 1
    assert store.place("room-1", "nobody") is None


def test_one_caller_per_period_wins_the_tick(store: QueueStore):
    assert [store.claim_tick("room-1", 7) for _ in range(3)] == [True, False, False]
    assert store.claim_tick("room-1", 8)


def test_latencies_are_counted_per_period(store: QueueStore):
    for bucket in (1, 1, 4):
        store.count_latency("room-1", 9, bucket)
    assert store.latencies("room-1", 9) == {1: 2, 4: 1}
    assert store.latencies("room-1", 10) == {}


def test_two_redis_stores_on_one_prefix_share_the_queue_and_the_pass_key():
    """As two worker processes (or hosts) do."""
    clock = FakeClock(OPENS)
    with redis_prefix() as prefix:
        one, two = (RedisQueueStore(redis_client(), prefix, clock=clock) for _ in range(2))
        assert one.turn_on(terms(), 2.0, False) and not two.turn_on(terms("room-2"), 2.0, False)
        places = [
            store.join("room-1", user, f"t-{user}", 0, PASS_SECONDS)[0].number
            for store, user in ((one, "a"), (two, "b"), (one, "c"))
        ]
        assert places == [1, 2, 3]
        assert two.join("room-1", "a", "t-x", 0, PASS_SECONDS)[0].place_id == "t-a"
        assert one.secret() == two.secret() and len(one.secret()) == 64


def test_redis_uses_its_own_clock_when_given_none():
    with redis_prefix() as prefix:
        store = RedisQueueStore(redis_client(), prefix)
        server_now = float(redis_client().time()[0])
        assert store.turn_on(terms(opens_at=server_now + 3600), 1.0, False)
        place = store.join("room-1", "alice", "t-1", 0, PASS_SECONDS)[0]
        assert place.pre_queue and abs(place.gate.now - server_now) < 5


def test_a_store_made_from_a_url_shares_the_queue_with_its_bounded_pool():
    """How the web app connects: every process on one URL and prefix sees one room; its
    pool has the documented limits (a flood waits for a connection, a dead Redis fails fast)."""
    with redis_prefix() as prefix:
        one = RedisQueueStore.from_url(REDIS_URL, prefix)
        assert one.turn_on(terms(), 2.0, False)
        assert RedisQueueStore(redis_client(), prefix).current() == terms()
        pool = one.client.connection_pool
        assert (pool.max_connections, pool.timeout) == (POOL_SIZE, POOL_WAIT)
        assert (pool.connection_kwargs["socket_timeout"], pool.connection_kwargs["socket_connect_timeout"]) == (
            TIMEOUT,
            TIMEOUT,
        )


def test_before_the_opening_a_place_counts_who_is_ahead_now_and_at_the_opening_it_is_final(store, clock):
    ranks = {"a": 30, "b": 10, "c": 20}
    ids = {}
    for user, rank in ranks.items():
        place = store.join("room-1", user, f"t-{user}", rank, PASS_SECONDS)[0]
        ids[user] = place.place_id
        assert place.pre_queue
    assert {user: store.place("room-1", t).number for user, t in ids.items()} == {"b": 1, "c": 2, "a": 3}
    clock.now = OPENS  # the opening itself: nobody joins the draw any more
    store.join("room-1", "d", "t-d", 5, PASS_SECONDS)
    assert {user: store.place("room-1", t).number for user, t in ids.items()} == {"b": 1, "c": 2, "a": 3}
    assert store.place("room-1", "t-d").number == 4


def test_joins_at_once_go_to_redis_in_batches_and_each_gets_its_own_answer(monkeypatch):
    """Joins arriving while one is on its way to Redis share a pipeline (``_join_batch``): 60
    threads joining at once, 20 of them a second time, with Redis made slow enough that they
    meet. Every user has one place, the places are 1..40 once each, and fewer round trips
    than joins were made."""
    clock = FakeClock(OPENS)
    with redis_prefix() as prefix:
        store = RedisQueueStore(redis_client(), prefix, clock=clock)
        assert store.turn_on(terms(), 2.0, False)
        pipelines = []
        pipeline = store.client.pipeline

        def slow_pipeline(**kwargs):
            pipelines.append(kwargs)
            time.sleep(0.05)
            return pipeline(**kwargs)

        monkeypatch.setattr(store.client, "pipeline", slow_pipeline)
        users = [f"u{n}" for n in range(40)] + [f"u{n}" for n in range(20)]
        start = threading.Barrier(len(users))

        def joined(user: str) -> tuple[str, int, str]:
            start.wait()
            place, _ = store.join("room-1", user, f"t-{user}-{secrets.token_hex(4)}", 0, PASS_SECONDS)
            return user, place.number, place.place_id

        with ThreadPoolExecutor(len(users)) as pool:
            answers = list(pool.map(joined, users))
        places = {user: (number, place_id) for user, number, place_id in answers}
        assert all(places[user] == (number, place_id) for user, number, place_id in answers)  # one place a user
        assert sorted(number for number, _ in places.values()) == list(range(1, 41))
        assert len(pipelines) < len(users) / 4


def test_a_join_script_redis_forgot_is_loaded_again():
    """After a Redis restart or failover the scripts are gone (NOSCRIPT): the join is run alone, which loads it."""
    with redis_prefix() as prefix:
        store = RedisQueueStore(redis_client(), prefix, clock=FakeClock(OPENS))
        assert store.turn_on(terms(), 2.0, False)
        store._scripts["join"].sha = "0" * 40  # a script Redis does not have
        assert join(store, "alice") == (1, True) and join(store, "alice") == (1, False)
