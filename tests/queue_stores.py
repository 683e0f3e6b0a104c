"""The waiting room's queue stores for tests: in this process, and in the shared Redis
server under a key prefix of the test's own (other test runs use the same server: never
FLUSHDB), removed afterwards. Redis tests fail, never skip, when Redis is missing."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import redis

from application.waiting_room.memory_store import MemoryQueueStore
from application.waiting_room.redis_store import RedisQueueStore
from application.waiting_room.store import QueueStore

REDIS_URL = "redis://127.0.0.1:6379/0"


class FakeClock:
    """Seconds since the epoch that move only when a test says so."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def redis_client() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.fail(f"Redis is required for this test and is not reachable: {error}")
    return client


@contextmanager
def redis_prefix() -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards."""
    prefix = f"test-queue:{uuid.uuid4().hex}"
    yield prefix
    client = redis_client()
    for key in client.scan_iter(f"{prefix}:*", count=1000):
        client.delete(key)


@contextmanager
def store_of_kind(kind: str, clock: Callable[[], float]) -> Iterator[QueueStore]:
    if kind == "memory":
        yield MemoryQueueStore(clock=clock)
        return
    with redis_prefix() as prefix:
        yield RedisQueueStore(redis_client(), prefix, clock=clock)


@pytest.fixture(params=["memory", "redis"])
def queue_kind(request: pytest.FixtureRequest) -> str:
    return request.param
