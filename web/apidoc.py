"""The shared parts of the OpenAPI description (served at ``/openapi.json``).

Each endpoint lists the error codes it can answer with (``@blp.errors(...)``); the status,
the one error body schema, an example per code and the headers that come with the status
(``Retry-After``, ``WWW-Authenticate``, ``Allow``) are filled in here, from the same table the
error handlers use (``web.errors.ERROR_STATUS``), so a new blueprint documents its errors in
one line and the document cannot drift from the codes the API really sends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask_smorest
from flask import Flask
from marshmallow import Schema, fields

from web import schemas
from web.errors import ERROR_STATUS


class ErrorDetailSchema(Schema):
    path = fields.String(required=True, metadata={
        "description": "the field, query parameter or header at fault; empty for the whole body"})
    message = fields.String(required=True)


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "stable, machine-readable; see each response"})
    message = fields.String(required=True, metadata={"description": "for people; may change"})
    details = fields.List(fields.Nested(ErrorDetailSchema()), required=True)


class ErrorSchema(Schema):
    """Every error answer: ``{"error": {"code", "message", "details"}}``."""

    error = fields.Nested(ErrorBodySchema(), required=True)


BOOKING_ID = "6b0f7c57-4d6e-4c1f-9a51-5f1a2b3c4d5e"  # of the examples

# An example message (and details) for each code; a code missing here fails at import.
EXAMPLES: dict[str, tuple[str, list[dict[str, str]]]] = {
    "VALIDATION_ERROR": ("The request is not valid.", [{"path": "quantity", "message": "Missing data for required field."}]),
    "INVALID_JSON": ("The request body is not valid JSON.", []),
    "UNAUTHORIZED": ("Authentication required.", []),
    "FORBIDDEN": (f"Booking {BOOKING_ID} belongs to another user.", []),
    "NOT_FOUND": ("The requested URL was not found on the server.", []),
    "TICKET_NOT_FOUND": ("No tier 'VIP'.", []),
    "BOOKING_NOT_FOUND": (f"No booking '{BOOKING_ID}'.", []),
    "VERSION_NOT_FOUND": ("Tier VIP has no version 9.", []),
    "METHOD_NOT_ALLOWED": ("The method is not allowed for the requested URL.", []),
    "BOOKING_ALREADY_CANCELLED": (f"Booking {BOOKING_ID} is already cancelled.", []),
    "BOOKING_NOT_CONFIRMED": (f"Booking {BOOKING_ID} is held; only a confirmed booking is cancelled.", []),
    "HOLD_NOT_ACTIVE": (f"Booking {BOOKING_ID} is released, not held.", []),
    "HOLD_EXPIRED": (f"Hold {BOOKING_ID} expired at 2026-11-24T08:51:16.609600+00:00.", []),
    "TIER_ALREADY_EXISTS": ("Tier VIP already exists.", []),
    "SALES_CLOSED": ("Sales of tier VIP are closed.", []),
    "REQUEST_ENTITY_TOO_LARGE": ("The data value transmitted exceeds the capacity limit.", []),
    "UNSUPPORTED_MEDIA_TYPE": ("Send the request body as application/json.", []),
    "INSUFFICIENT_TICKETS": ("Only 3 VIP ticket(s) left, 5 requested.", [{"path": "quantity", "message": "3 available"}]),
    "USER_LIMIT_EXCEEDED": ("At most 4 VIP ticket(s) per user; alice has 4.", []),
    "IDEMPOTENCY_KEY_REUSED": ("Idempotency-Key 'order-42' was used for another booking.", []),
    "TOO_MANY_REQUESTS": ("20 per 1 second", []),
    "LEDGER_BUSY": ("Gave up after 40 conflicting attempts; retry later.", []),
    "STORE_UNAVAILABLE": ("The event store is not answering; retry later.", []),
    "PROJECTION_LAGGING": ("The read tables are 42.5 s behind (limit 30.0 s).",
                           [{"path": "projectionLagSeconds", "message": "42.5"}]),
    "QUEUE_PASS_REQUIRED": ("A waiting room is on for this sale: join the queue (POST /api/queue) and book with "
                            "the pass it gives you (Queue-Pass header).", []),
    "QUEUE_PASS_EXPIRED": ("Your queue pass expired at 2026-11-24T10:05:04+00:00: join the queue again "
                           "(POST /api/queue).", []),
    "QUEUE_TICKET_NOT_FOUND": ("No queue ticket 'abc'.", []),
    "WAITING_ROOM_NOT_FOUND": ("No waiting room '0b9c6f0e'.", []),
    "WAITING_ROOM_OFF": ("No waiting room is on: book directly.", []),
    "WAITING_ROOM_ALREADY_ON": ("A waiting room is on already; close it first.", []),
    "QUEUE_UNAVAILABLE": ("The waiting room's queue is not answering; retry later.", []),
}
assert EXAMPLES.keys() == ERROR_STATUS.keys(), "every error code needs its example"

RETRY_AFTER = {"description": "seconds to wait before retrying", "schema": {"type": "integer", "minimum": 0}}
HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "always `Bearer`", "schema": {"type": "string"}}},
    405: {"Allow": {"description": "the methods the path accepts", "schema": {"type": "string"}}},
    429: {"Retry-After": RETRY_AFTER},
    503: {"Retry-After": RETRY_AFTER},
}

# The codes shared by kinds of endpoint; each endpoint adds its own.
JSON_BODY = ("VALIDATION_ERROR", "INVALID_JSON", "REQUEST_ENTITY_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE")
COMMAND = ("LEDGER_BUSY", "STORE_UNAVAILABLE")
ADMIN = ("UNAUTHORIZED", "NOT_FOUND")
# Booking and holding while a waiting room is on (web/queue.py).
QUEUE_PASS = ("QUEUE_PASS_REQUIRED", "QUEUE_PASS_EXPIRED", "QUEUE_UNAVAILABLE")

IDEMPOTENCY_KEY_HEADER = {
    "in": "header", "name": "Idempotency-Key", "required": False,
    "description": "Names the booking or hold (or, on cancel, the cancellation): the same key (for the same "
                   "user) again returns the same booking and books nothing more; another request under it is "
                   "422 `IDEMPOTENCY_KEY_REUSED`.",
    "schema": {"type": "string", "pattern": schemas.IDEMPOTENCY_KEY.pattern},
    "example": "order-42",
}
QUEUE_PASS_HEADER = {
    "in": "header", "name": "Queue-Pass", "required": False,
    "description": "While a waiting room is on for the tier: the pass `GET /api/queue/{ticketId}` gave the user "
                   "when admitted (403 `QUEUE_PASS_REQUIRED` without one, `QUEUE_PASS_EXPIRED` once it lapsed); "
                   "ignored otherwise.",
    "schema": {"type": "string"},
}
ADMIN_SECURITY = [{"adminToken": []}]


def error_example(code: str) -> dict[str, Any]:
    message, details = EXAMPLES[code]
    return {"error": {"code": code, "message": message, "details": details}}


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's blueprint that can also document its error answers."""

    def errors(self, *codes: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Document the answers for these error codes: one response per status, with the
        codes in its description and an example each."""
        by_status: dict[int, list[str]] = {}
        for code in dict.fromkeys(codes):
            by_status.setdefault(ERROR_STATUS[code], []).append(code)

        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            for status, status_codes in by_status.items():
                view = self.alt_response(
                    status, schema=ErrorSchema, headers=HEADERS.get(status),
                    description=" or ".join(f"`{code}`" for code in status_codes),
                    examples={code: {"value": error_example(code)} for code in status_codes},
                )(view)
            return view

        return decorate


class Api(flask_smorest.Api):
    """Errors use our own body, and no catch-all ``default`` response: every status an
    endpoint can answer with is listed, so a fuzzer flags any other. A field whose bound is
    a setting says so with ``metadata={"maximum_setting": NAME}``; the document shows this
    app's value."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self.spec.components.security_scheme(
            "adminToken", {"type": "http", "scheme": "bearer", "description": "the `ADMIN_TOKEN` setting"})
        config = app.config

        def maximum_setting(_converter: Any, field: fields.Field, **_: Any) -> dict[str, Any]:
            name = field.metadata.get("maximum_setting")
            return {"maximum": config[name]} if name else {}

        self.ma_plugin.converter.add_attribute_function(maximum_setting)
