"""Booking is rate limited per client, with counts shared by every worker through Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
import redis
from flask import Flask

from scripts.harness.processes import ROOT, call, free_port, gunicorn
from tests.e2e.conftest import book
from web import create_app

REDIS = "redis://127.0.0.1:6379/0"


def limited_app(store_env, storage: str):
    return create_app(
        {
            "LEDGER_ENV": store_env,
            "DEMO_TIERS": "VIP:1.00:100",
            "BOOKING_RATE_LIMIT": "3 per minute",
            "RATE_LIMIT_STORAGE_URI": storage,
            "RATELIMIT_KEY_PREFIX": uuid.uuid4().hex,
        }
    )


def test_over_the_limit_a_client_gets_429_with_retry_after_and_books_nothing(store_env):
    app = limited_app(store_env, "memory://")
    client = app.test_client()
    assert [book(client).status_code for _ in range(3)] == [201, 201, 201]
    refused = book(client)
    assert (refused.status_code, refused.json["error"]["code"]) == (429, "TOO_MANY_REQUESTS")
    assert int(refused.headers["Retry-After"]) > 0
    assert client.get("/api/tickets").status_code == 200  # reads are not limited
    assert app.extensions["services"].ledger.get_tier("VIP").sold == 3
    app.extensions["services"].close()


def test_holds_are_rate_limited_too(store_env):
    app = limited_app(store_env, "memory://")
    client = app.test_client()
    body = {"userId": "u1", "tier": "VIP", "quantity": 1}
    statuses = [client.post("/api/tickets/hold", json=body).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    app.extensions["services"].close()


def test_while_the_counts_store_does_not_answer_bookings_go_on_uncounted(store_env):
    """A Redis failover: the limit is not counted for its seconds, rather than every booking refused."""
    app = limited_app(store_env, "redis://127.0.0.1:1/0")  # nothing listens there
    client = app.test_client()
    assert [book(client).status_code for _ in range(4)] == [201] * 4  # over the limit of 3: uncounted
    app.extensions["services"].close()


def require_redis() -> None:
    try:
        redis.Redis.from_url(REDIS).ping()
    except redis.ConnectionError as error:
        pytest.fail(f"Redis is required for this test and is not reachable: {error}")


@pytest.mark.postgres
def test_two_workers_share_one_count_in_redis(postgres_env):
    require_redis()
    prefix = {"RATELIMIT_KEY_PREFIX": uuid.uuid4().hex}
    workers = [
        create_app(
            {
                "LEDGER_ENV": postgres_env,
                "DEMO_TIERS": "VIP:1.00:100",
                "BOOKING_RATE_LIMIT": "3 per minute",
                "RATE_LIMIT_STORAGE_URI": REDIS,
                **prefix,
            }
        )
        for _ in range(2)
    ]
    one, two = (w.test_client() for w in workers)
    statuses = [book(c).status_code for c in (one, two, one, two)]
    assert statuses == [201, 201, 201, 429]
    for w in workers:
        w.extensions["services"].close()


@pytest.fixture
def guarded_app(store_env) -> Iterator[Flask]:
    """The admin endpoints on, and 5 failed sign-ins a minute per client."""
    app = create_app(
        {
            "LEDGER_ENV": store_env,
            "DEMO_TIERS": "",
            "ADMIN_TOKEN": "right-token",
            "ADMIN_AUTH_RATE_LIMIT": "5 per minute",
            "RATELIMIT_KEY_PREFIX": uuid.uuid4().hex,
        }
    )
    yield app
    app.extensions["services"].close()


def test_failed_admin_sign_ins_are_limited_per_client_but_the_right_token_is_not(guarded_app):
    client = guarded_app.test_client()

    def create(token: str, address: str = "192.0.2.1"):
        return client.post(
            "/api/admin/tiers/VIP/close",
            headers={"Authorization": f"Bearer {token}"},
            environ_base={"REMOTE_ADDR": address},
        )

    assert [create(f"guess-{n}").status_code for n in range(7)] == [401] * 5 + [429] * 2
    assert int(create("guess-8").headers["Retry-After"]) > 0
    assert create("right-token").status_code == 404  # past the limit, the right token still works (no tier VIP)
    assert create("guess-9", address="192.0.2.2").status_code == 401  # another client has its own count


# One guess on each of the admin's blueprints, then one more.
GUESSES = [
    ("GET", "/api/admin/tiers/VIP/history"),
    ("POST", "/api/admin/events"),
    ("GET", "/api/admin/webhooks"),
    ("GET", "/api/admin/overview"),
    ("GET", "/api/admin/waiting-room"),
    ("GET", "/api/admin/audit"),
]


def test_failed_admin_sign_ins_count_together_on_every_endpoint_behind_the_admin_token(guarded_app):
    """A guesser who spreads guesses over the admin endpoints gets the limit once, not once each."""
    client = guarded_app.test_client()
    guesses = [client.open(path, method=method, headers={"Authorization": "Bearer x"}) for method, path in GUESSES]
    assert [guess.status_code for guess in guesses] == [401] * 5 + [429]
    assert client.get("/api/admin/overview", headers={"Authorization": "Bearer right-token"}).status_code == 200


def proxied_app(store_env, **config):
    return create_app(
        {
            "LEDGER_ENV": store_env,
            "DEMO_TIERS": "VIP:1.00:100",
            "BOOKING_RATE_LIMIT": "2 per minute",
            "RATELIMIT_KEY_PREFIX": uuid.uuid4().hex,
            **config,
        }
    )


def book_via(client, peer: str, forwarded_for: str):
    return client.post(
        "/api/tickets/book",
        json={"userId": "u1", "tier": "VIP", "quantity": 1},
        headers={"X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": peer},
    )


def test_behind_a_trusted_proxy_each_client_has_its_own_count(store_env):
    app = proxied_app(store_env, TRUSTED_PROXIES="10.0.0.0/8, 192.0.2.7")
    client = app.test_client()
    alice = [book_via(client, "10.1.2.3", "198.51.100.1").status_code for _ in range(3)]
    bob = [book_via(client, "10.1.2.3", "spoofed, 198.51.100.2").status_code for _ in range(3)]  # the last hop counts
    carol = [book_via(client, "192.0.2.7", "198.51.100.3").status_code for _ in range(3)]
    assert alice == bob == carol == [201, 201, 429]  # the proxy's address is not the client's
    app.extensions["services"].close()


def test_x_forwarded_for_from_anyone_but_a_trusted_proxy_is_ignored(store_env):
    app = proxied_app(store_env, TRUSTED_PROXIES="10.0.0.0/8")
    client = app.test_client()
    statuses = [book_via(client, "203.0.113.9", f"198.51.100.{n}").status_code for n in range(3)]
    assert statuses == [201, 201, 429]  # one client, whatever it claims
    app.extensions["services"].close()


def test_counts_in_memory_are_refused_when_more_than_one_process_serves(store_env):
    with pytest.raises(RuntimeError, match="RATE_LIMIT_STORAGE_URI"):
        create_app({"LEDGER_ENV": store_env, "DEMO_TIERS": "", "WEB_CONCURRENCY": 2})
    app = create_app({"LEDGER_ENV": store_env, "DEMO_TIERS": "", "WEB_CONCURRENCY": 2, "BOOKING_RATE_LIMIT": ""})
    app.extensions["services"].close()  # no limit, nothing to count


@pytest.mark.postgres
@pytest.mark.slow
def test_gunicorn_with_two_workers_will_not_start_on_counts_in_memory(postgres_env, tmp_path):
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env={
                **os.environ,
                **postgres_env,
                "BIND": f"127.0.0.1:{free_port()}",
                "GUNICORN_WORKERS": "2",
                "RATE_LIMIT_STORAGE_URI": "memory://",
            },
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            assert server.wait(timeout=60) != 0
        finally:
            server.kill()  # if it did start
            server.wait()
    assert "RATE_LIMIT_STORAGE_URI is memory://" in log.read_text()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_gunicorn_workers_let_exactly_the_limit_through(postgres_env, tmp_path):
    require_redis()
    env = {
        **postgres_env,
        "GUNICORN_WORKERS": "2",
        "DEMO_TIERS": "VIP:1.00:100",
        "BOOKING_RATE_LIMIT": "5 per minute",
        "RATE_LIMIT_STORAGE_URI": REDIS,
        "RATE_LIMIT_KEY_PREFIX": uuid.uuid4().hex,
        "PROJECT_IN_PROCESS": "yes",
    }
    with open(tmp_path / "gunicorn.log", "w+") as log, gunicorn(env, log) as (base, _):
        replies = [
            call(f"{base}/api/tickets/book", {"userId": f"u{n}", "tier": "VIP", "quantity": 1}) for n in range(20)
        ]  # a new connection each: both workers answer
    assert Counter(reply.status for reply in replies) == {201: 5, 429: 15}
    assert {reply.headers["X-RateLimit-Limit"] for reply in replies} == {"5"}
