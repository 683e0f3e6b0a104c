"""Hostile bodies, through Flask's test client on both stores: JSON that crashes the
parser and chunked bodies past the size limit are refused like any bad body, on every
endpoint that takes one, without a traceback (the real server: ``test_hostile.py``)."""

from __future__ import annotations

import io
import json
import logging

import pytest
from flask import Flask

from tests.e2e.conftest import ADMIN_TOKEN

BOOKING_ID = "6b0f7c57-4d6e-4c1f-9a51-5f1a2b3c4d5e"
# Each crashed Python's own parser: RecursionError, and ValueError (int digits limit).
CRASHING = {
    "5,000 levels of nesting": b'{"userId": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "an integer of 5,000 digits": b'{"userId": "u1", "tier": "VIP", "quantity": ' + b"9" * 5000 + b"}",
}


def json_endpoints(app: Flask) -> list[str]:
    """Every path whose POST takes a JSON body (the API document says which), with its
    parameters filled in."""
    fill = {
        "tier": "VIP",
        "booking_id": BOOKING_ID,
        "hold_id": BOOKING_ID,
        "endpoint_id": "we_0",
        "organizer": "default",
        "member_id": BOOKING_ID,
        "key_id": BOOKING_ID,
        "event_id": "main",
        "device_id": BOOKING_ID,
    }
    document = app.test_client().get("/openapi.json").json
    return [
        path.format(**fill)
        for path, operations in document["paths"].items()
        if "requestBody" in operations.get("post", {})
    ]


@pytest.mark.parametrize("kind", CRASHING)
def test_json_that_crashes_the_parser_is_invalid_json_everywhere(admin_app, kind, caplog):
    client = admin_app.test_client()
    paths = json_endpoints(admin_app)
    assert len(paths) >= 7 and "/api/tickets/book" in paths
    for path in paths:
        response = client.post(
            path,
            data=CRASHING[kind],
            content_type="application/json",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert (response.status_code, response.json["error"]["code"]) == (400, "INVALID_JSON"), path
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert admin_app.extensions["services"].ledger.get_tier("VIP").sold == 0


def test_a_chunked_body_over_the_limit_is_413_and_books_nothing(app):
    """Valid JSON padded past ``MAX_CONTENT_LENGTH``: with ``Content-Length`` Flask refuses
    it; sent chunked (no length) it used to be cut at the limit and parsed."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = json.dumps({"userId": "u1", "tier": "VIP", "quantity": 1}).encode() + b" " * limit + b"garbage"
    response = app.test_client().post(
        "/api/tickets/book",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert (response.status_code, response.json["error"]["code"]) == (413, "REQUEST_ENTITY_TOO_LARGE")
    assert app.extensions["services"].ledger.get_tier("VIP").sold == 0


def test_a_chunked_body_within_the_limit_books(app):
    body = json.dumps({"userId": "u1", "tier": "VIP", "quantity": 1}).encode()
    padded = body + b" " * (app.config["MAX_CONTENT_LENGTH"] - len(body))  # exactly at the limit
    response = app.test_client().post(
        "/api/tickets/book",
        input_stream=io.BytesIO(padded),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 201
