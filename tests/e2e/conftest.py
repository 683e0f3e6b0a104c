from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import postgres_schema
from tests.e2e.private_postgres import PrivatePostgres
from web import create_app


@pytest.fixture
def app(store_env: dict[str, str]) -> Iterator[Flask]:
    app = create_app(
        {"LEDGER_ENV": store_env, "DEMO_TIERS": "VIP:100.00:5,GA:10.00:50", "PROJECT_IN_PROCESS": "yes",
         "BOOKING_RATE_LIMIT": ""}
    )
    yield app
    app.extensions["ledger"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def book(client: FlaskClient, user: str = "u1", tier: str = "VIP", quantity: int = 1):
    return client.post("/api/tickets/book", json={"userId": user, "tier": tier, "quantity": quantity})


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
