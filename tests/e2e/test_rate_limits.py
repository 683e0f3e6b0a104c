"""Booking is rate limited per client, with counts shared by every worker through Redis."""

from __future__ import annotations

import uuid

import pytest
import redis

from tests.e2e.conftest import book
from web import create_app

REDIS = "redis://127.0.0.1:6379/0"


def limited_app(store_env, storage: str):
    return create_app({"LEDGER_ENV": store_env, "DEMO_TIERS": "VIP:1.00:100", "BOOKING_RATE_LIMIT": "3 per minute",
                       "RATE_LIMIT_STORAGE_URI": storage, "RATELIMIT_KEY_PREFIX": uuid.uuid4().hex})


def test_over_the_limit_a_client_gets_429_with_retry_after_and_books_nothing(store_env):
    app = limited_app(store_env, "memory://")
    client = app.test_client()
    assert [book(client).status_code for _ in range(3)] == [201, 201, 201]
    refused = book(client)
    assert (refused.status_code, refused.json["error"]["code"]) == (429, "TOO_MANY_REQUESTS")
    assert int(refused.headers["Retry-After"]) > 0
    assert client.get("/api/tickets").status_code == 200  # reads are not limited
    assert app.extensions["ledger"].ledger.get_tier("VIP").sold == 3
    app.extensions["ledger"].close()


def test_holds_are_rate_limited_too(store_env):
    app = limited_app(store_env, "memory://")
    client = app.test_client()
    body = {"userId": "u1", "tier": "VIP", "quantity": 1}
    statuses = [client.post("/api/tickets/hold", json=body).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    app.extensions["ledger"].close()


@pytest.mark.postgres
def test_two_workers_share_one_count_in_redis(postgres_env):
    try:
        redis.Redis.from_url(REDIS).ping()
    except redis.ConnectionError as error:
        pytest.fail(f"Redis is required for this test and is not reachable: {error}")
    prefix = {"RATELIMIT_KEY_PREFIX": uuid.uuid4().hex}
    workers = [create_app({"LEDGER_ENV": postgres_env, "DEMO_TIERS": "VIP:1.00:100", "BOOKING_RATE_LIMIT": "3 per minute",
                           "RATE_LIMIT_STORAGE_URI": REDIS, **prefix}) for _ in range(2)]
    one, two = (w.test_client() for w in workers)
    statuses = [book(c).status_code for c in (one, two, one, two)]
    assert statuses == [201, 201, 201, 429]
    for w in workers:
        w.extensions["ledger"].close()
