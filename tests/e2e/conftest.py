from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from selenium.webdriver.remote.webdriver import WebDriver

from scripts.harness.private_postgres import PrivatePostgres
from tests.conftest import postgres_schema
from tests.e2e.browser import open_browser
from web import create_app

ADMIN_TOKEN = "e2e-admin-token"


def make_app(store_env: dict[str, str], **config: Any) -> Flask:
    """An app on the test's store with two demo tiers, no rate limits, holds expired only
    when a test says so, no webhook deliveries (fuzzers register endpoints), and live
    streams and feed long-polls that end at once (fuzzers call them too)."""
    return create_app(
        {
            "LEDGER_ENV": store_env,
            "DEMO_TIERS": "VIP:100.00:5,GA:10.00:50",
            "PROJECT_IN_PROCESS": "yes",
            "EXPIRE_HOLDS_IN_PROCESS": "no",
            "INTEGRATIONS_IN_PROCESS": "no",
            "FEED_MAX_WAIT_SECONDS": 0,
            "BOOKING_RATE_LIMIT": "",
            "ADMIN_AUTH_RATE_LIMIT": "",
            "SSE_MAX_SECONDS": 0.1,
            **config,
        }
    )


@pytest.fixture
def app(store_env: dict[str, str]) -> Iterator[Flask]:
    app = make_app(store_env)
    yield app
    app.extensions["services"].close()


@pytest.fixture
def admin_app(store_env: dict[str, str]) -> Iterator[Flask]:
    """The same, with the admin endpoints on (``ADMIN_TOKEN``): for the fuzzers, which reach everything."""
    app = make_app(store_env, ADMIN_TOKEN=ADMIN_TOKEN)
    yield app
    app.extensions["services"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def cases(request: pytest.FixtureRequest) -> Iterator[Counter[str]]:
    """What a fuzzing module sent, by kind; printed at its end (``pytest -s`` shows it)."""
    counter: Counter[str] = Counter()
    yield counter
    print(f"\n{request.module.__name__}: {dict(counter)}, {counter.total()} requests")


def book(client: FlaskClient, user: str = "u1", tier: str = "VIP", quantity: int = 1):
    return client.post("/api/tickets/book", json={"userId": user, "tier": tier, "quantity": quantity})


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    """Headless chromium (tests/e2e/browser.py), quit at the end."""
    driver = open_browser()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of the module's own, which its tests may crash."""
    cluster = PrivatePostgres()
    yield cluster
    cluster.remove()


@pytest.fixture
def private_postgres_env(private_postgres: PrivatePostgres) -> Iterator[dict[str, str]]:
    """Settings for a fresh schema in the private cluster."""
    yield from postgres_schema(private_postgres.settings)
