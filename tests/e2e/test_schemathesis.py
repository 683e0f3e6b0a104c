"""Schemathesis fuzzes every operation of the OpenAPI document, on both stores, with every
built-in check: no 5xx, only documented statuses, content types and headers, bodies that
match the response schemas, invalid data refused and valid data accepted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, seed, settings

from schemathesis.config import SchemathesisConfig

from web import create_app

TOKEN = "fuzz-admin-token"
ACCEPTED = ["2xx", "401", "403", "404", "409", "422"]
CONFIG = SchemathesisConfig.from_dict({
    "generation": {"mode": "all"},  # invalid requests too, which must be refused with a 4xx
    # A well-formed booking of more tickets than are left (or over the tier's per-user limit,
    # or under a reused Idempotency-Key) is refused with 422 by the API's contract: a business
    # rule, not a schema violation. Every other status still fails the check.
    "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
    "operations": [{
        # atVersion and atTime exclude each other (400), which OpenAPI 3.0 cannot express.
        "include-path": "/api/tiers/{tier}", "include-method": "GET",
        "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}},
    }],
})
CASES: Counter[str] = Counter()


@pytest.fixture
def fuzzed_app(store_env: dict[str, str]) -> Iterator[Flask]:
    """Seeded tiers, the admin endpoints on, no rate limit (one client sends everything)."""
    app = create_app({"LEDGER_ENV": store_env, "DEMO_TIERS": "VIP:100.00:5,GA:10.00:50", "PROJECT_IN_PROCESS": "yes",
                      "BOOKING_RATE_LIMIT": "", "ADMIN_TOKEN": TOKEN})
    yield app
    app.extensions["ledger"].close()


@pytest.fixture
def api_schema(fuzzed_app: Flask):
    return schemathesis.openapi.from_wsgi("/openapi.json", fuzzed_app, config=CONFIG)


@pytest.fixture(scope="module", autouse=True)
def count_cases() -> Iterator[None]:
    yield
    print(f"\nschemathesis cases: {dict(CASES)}, total {CASES.total()}")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@seed(20261124)
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_documented_promises(case, store_env):
    CASES[store_env["PERSISTENCE_MODULE"]] += 1
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})
