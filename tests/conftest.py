"""Fixtures: every store-level test runs on SQLite and on PostgreSQL.

PostgreSQL tests never skip: if the server is missing they fail, loudly. Point them at
another server with the ``POSTGRES_*`` variables (defaults: 127.0.0.1:5432, user
``postgres``, database ``test``). Each test gets a fresh schema, dropped afterwards.
Run ``pytest -m "not postgres"`` to leave them out on purpose.

``HYPOTHESIS_PROFILE=mutation`` (set by ``make mutation``) makes every hypothesis test
short and repeatable, and stops it at the first failure without shrinking it: mutmut runs
the tests once per mutant, a mutant should be killed or survive the same way on every
run, and a failure found is all it needs (shrinking one took longer than mutmut's timeout).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import psycopg
import pytest
from hypothesis import Phase, settings

from application import BookingLedger

settings.register_profile(
    "mutation",
    max_examples=10,
    stateful_step_count=10,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def machine_settings(max_examples: int, stateful_step_count: int) -> settings:
    """A state machine's settings: as given, or the mutation profile's when it is loaded."""
    if os.environ.get("HYPOTHESIS_PROFILE") == "mutation":
        return settings.default
    return settings(max_examples=max_examples, stateful_step_count=stateful_step_count, deadline=None)


def postgres_settings() -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": os.environ.get("POSTGRES_DBNAME", "test"),
        "POSTGRES_HOST": os.environ.get("POSTGRES_HOST", "127.0.0.1"),
        "POSTGRES_PORT": os.environ.get("POSTGRES_PORT", "5432"),
        "POSTGRES_USER": os.environ.get("POSTGRES_USER", "postgres"),
        "POSTGRES_PASSWORD": os.environ.get("POSTGRES_PASSWORD", ""),
    }


def connect_postgres(settings: dict[str, str] | None = None) -> psycopg.Connection:
    """A connection to the shared server, or to the one ``settings`` names."""
    s = settings or postgres_settings()
    try:
        return psycopg.connect(
            dbname=s["POSTGRES_DBNAME"],
            host=s["POSTGRES_HOST"],
            port=s["POSTGRES_PORT"],
            user=s["POSTGRES_USER"],
            password=s["POSTGRES_PASSWORD"],
            autocommit=True,
        )
    except psycopg.OperationalError as e:
        pytest.fail(f"PostgreSQL is required for this test and is not reachable: {e}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_env(request: pytest.FixtureRequest, tmp_path) -> Iterator[dict[str, str]]:
    """Settings for a fresh, empty event store of each kind."""
    if request.param == "sqlite":
        yield {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "ledger.sqlite3")}
    else:
        yield from postgres_schema()


@pytest.fixture
def postgres_env() -> Iterator[dict[str, str]]:
    """Settings for a fresh PostgreSQL schema (for tests that only make sense there)."""
    yield from postgres_schema()


def postgres_schema(settings: dict[str, str] | None = None) -> Iterator[dict[str, str]]:
    """Create a fresh schema (on the shared server unless ``settings`` name another),
    yield the settings for it, drop it."""
    settings = settings or postgres_settings()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with connect_postgres(settings) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    # A write timeout far above the default's 1 s: on a loaded test machine a batch can take a
    # second of CPU starvation, and a 503 there is the machine, not the code. The tests of the
    # timeout itself set theirs (tests/integration/test_write_deadline.py).
    yield {
        **settings,
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": "10",
        "POSTGRES_MAX_OVERFLOW": "60",
        "POSTGRES_WRITE_TIMEOUT_MS": "10000",
    }
    with connect_postgres(settings) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def postgres_schema_for(resources: ExitStack) -> dict[str, str]:
    """A fresh schema's settings for a state machine's run, dropped when ``resources`` close."""
    schema = postgres_schema()
    resources.callback(next, schema, None)
    return next(schema)


@pytest.fixture
def ledger(store_env: dict[str, str]) -> Iterator[BookingLedger]:
    with BookingLedger(env=store_env) as app:
        yield app
