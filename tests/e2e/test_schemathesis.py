"""Schemathesis fuzzes every operation of the OpenAPI document, on both stores, with every
built-in check (no 5xx, only documented statuses, content types and headers, bodies that
match the response schemas, invalid data refused and valid data accepted, methods and auth
handled) and one of ours: a header the document names is never sent where it is not
documented. The rate limit is on, but too high to reach, so its headers are there to check.

Narrowed, with the reason:
- ``max_response_time`` is off: speed is measured by the benchmarks, not enforced by tests.
- ``positive_data_acceptance`` lets ``atVersion`` together with ``atTime`` be 400: the two
  exclude each other, which OpenAPI 3.0 parameters cannot express (their descriptions say
  it). So may be the other rules across fields that OpenAPI 3.0 cannot express: an order or
  a new event naming a tier twice, a new event called ``main`` (the default event's id) or
  whose sale window closes before it opens. Every other schema-valid request must still be
  accepted.
- ``response_schema_conformance`` reads the stream's ``schema`` as one event, as
  schemathesis does for documents before OpenAPI 3.2; ours describes the whole stream as a
  string, which is what a generated client can take. ``stream_format`` checks the events
  instead: the documented ``retry:``, then ``data:`` lines of tier lists, or heartbeats.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, seed, settings
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

from tests.e2e.conftest import ADMIN_TOKEN, make_app
from tests.e2e.test_user_tokens import RSA_KEY, TOKEN_SETTINGS, as_user, pem

CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"mode": "all"},  # invalid requests too, which must be refused with a 4xx
        # A well-formed booking of more tickets than are left (or over the tier's per-user limit,
        # or under a reused Idempotency-Key) is refused with 422 by the API's contract: a business
        # rule, not a schema violation; so is a well-formed id that names nothing (404) or someone
        # else's booking (403), or a second cancellation (409); a conditional GET whose
        # If-None-Match names the answer (``*`` names any) is 304. Every other status still fails.
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", "304", "401", "403", "404", "409", "422"]},
            # An invalid body may also be refused for its size before it is read (413): an
            # offline gate's upload of 50 scans of fuzzed text can pass MAX_CONTENT_LENGTH.
            "negative_data_rejection": {
                "expected-statuses": [
                    "400",
                    "401",
                    "403",
                    "404",
                    "405",
                    "406",
                    "409",
                    "413",
                    "415",
                    "422",
                    "428",
                    "429",
                    "5xx",
                ]
            },
        },
    }
)


@pytest.fixture
def fuzzed_app(store_env: dict[str, str]) -> Iterator[Flask]:
    """Seeded tiers, admin on, and a rate limit no fuzzer reaches."""
    app = make_app(
        store_env,
        ADMIN_TOKEN=ADMIN_TOKEN,
        BOOKING_RATE_LIMIT="1000000 per second",
        STAFF_SIGN_IN_LIMIT_PER_ADDRESS="",  # the fuzzer signs in from one address, far past any limit
        STAFF_SIGN_IN_LIMIT_PER_ACCOUNT="",
    )
    yield app
    app.extensions["services"].close()


@pytest.fixture
def api_schema(fuzzed_app: Flask):
    return schemathesis.openapi.from_wsgi("/openapi.json", fuzzed_app, config=CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


def documented_headers(document: dict[str, Any]) -> Iterator[tuple[str, str, str, set[str]]]:
    """(path, method, status, the response's header names, lower case) of every response."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for status, response in operation.get("responses", {}).items():
                yield path, method, status, {name.lower() for name in response.get("headers", {})}


@pytest.fixture
def no_undocumented_headers(fuzzed_app: Flask):
    """A check: each header that the document names anywhere comes only where it is documented."""
    document = fuzzed_app.test_client().get("/openapi.json").json
    documented = {(path, method, status): names for path, method, status, names in documented_headers(document)}
    named = set().union(*documented.values())

    def no_undocumented_headers(_ctx: Any, response: Any, case: Any) -> None:
        key = (case.operation.path, case.operation.method.lower(), str(response.status_code))
        if key in documented:  # an undocumented status is status_code_conformance's to report
            sent = {name.lower() for name in response.headers} & named
            assert sent <= documented[key], f"{key}: undocumented {sorted(sent - documented[key])}"

    return no_undocumented_headers


def positive_data_acceptance(ctx: Any, response: Any, case: Any) -> bool | None:
    """The built-in check, but not for the rules across fields (see the module's docstring)."""
    if case.query and {"atVersion", "atTime"} <= case.query.keys():
        return None
    if response.status_code == 400 and breaks_a_rule_across_fields(case.body):
        return None
    return checks.positive_data_acceptance(ctx, response, case)


def breaks_a_rule_across_fields(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    listed = body.get("items") or body.get("tiers")
    tiers = (
        [json.dumps(item.get("tier")) for item in listed if isinstance(item, dict)] if isinstance(listed, list) else []
    )
    try:
        opens, closes = (datetime.fromisoformat(body[name]) for name in ("saleOpensAt", "saleClosesAt"))
        closes_first = opens >= closes
    except (KeyError, TypeError, ValueError):
        closes_first = False
    return len(set(tiers)) != len(tiers) or body.get("eventId") == "main" or closes_first


def is_stream(response: Any) -> bool:
    return response.headers.get("content-type", [""])[0].startswith("text/event-stream")


def response_schema_conformance(ctx: Any, response: Any, case: Any) -> bool | None:
    """The built-in check, but not on the stream (see the module's docstring)."""
    return None if is_stream(response) else checks.response_schema_conformance(ctx, response, case)


EVENT = re.compile(r"data: (\[.*\])\n\n|: heartbeat\n\n")


def stream_format(_ctx: Any, response: Any, _case: Any) -> None:
    """The stream is what its description says: ``retry: 1000``, then events whose one
    ``data:`` line is the tier list in JSON, or heartbeat comments."""
    if not is_stream(response):
        return
    text = response.text
    assert text.startswith("retry: 1000\n\n"), text
    events = text.removeprefix("retry: 1000\n\n")
    assert EVENT.sub("", events) == "", events
    lists = [json.loads(found) for found in EVENT.findall(events) if found]
    assert lists and all(TICKET_FIELDS == tier.keys() for tiers in lists for tier in tiers), lists


TICKET_FIELDS = {"tier", "price", "currency", "capacity", "availableQuantity", "onSale"}
# The built-in checks narrowed as the module's docstring says, and ours in their place.
NARROWED = [checks.positive_data_acceptance, checks.response_schema_conformance]
NARROWING = [positive_data_acceptance, response_schema_conformance, stream_format]


@schema.parametrize()
@seed(20261124)
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_documented_promises(case, store_env, no_undocumented_headers, cases):
    cases[store_env["PERSISTENCE_MODULE"]] += 1
    case.call_and_validate(
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        excluded_checks=NARROWED,
        additional_checks=[*NARROWING, no_undocumented_headers],
    )


@pytest.fixture
def token_api_schema(store_env: dict[str, str]):
    """Token mode's document, against the app in token mode."""
    app = make_app(store_env, **TOKEN_SETTINGS, USER_TOKEN_KEY=pem(RSA_KEY))
    yield schemathesis.openapi.from_wsgi("/openapi.json", app, config=CONFIG)
    app.extensions["services"].close()


# Its user endpoints (the admin endpoints are off there).
token_schema = schemathesis.pytest.from_fixture("token_api_schema").include(
    path_regex=r"^/api/(tickets/(book|hold)|holds/|bookings/|users/)"
)


@token_schema.parametrize()
@seed(20261201)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_in_token_mode_the_user_endpoints_keep_their_documented_promises(case, store_env, cases):
    """With a valid token (of a user the generated ``userId`` seldom names: 403 is then the
    answer); schemathesis also sends each request without it and expects 401."""
    cases[f"token {store_env['PERSISTENCE_MODULE']}"] += 1
    case.call_and_validate(headers=as_user("alice"), excluded_checks=NARROWED, additional_checks=NARROWING)
