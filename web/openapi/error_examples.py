"""The one error body of the API (``{"error": {"code", "message", "details"}}``) as an
OpenAPI schema, and an example of every code for the document (``web/openapi/apidoc.py``)."""

from __future__ import annotations

from marshmallow import Schema, fields

from web.http.errors import ERROR_STATUS


class ErrorDetailSchema(Schema):
    path = fields.String(
        required=True,
        metadata={"description": "the field, query parameter or header at fault; empty for the whole body"},
    )
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
    "VALIDATION_ERROR": (
        "The request is not valid.",
        [{"path": "quantity", "message": "Missing data for required field."}],
    ),
    "INVALID_JSON": ("The request body is not valid JSON.", []),
    "UNAUTHORIZED": ("Authentication required.", []),
    "FORBIDDEN": ("userId is not the user of the bearer token.", []),
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
    "PRICE_CHANGE_REFUSED": ("Tier VIP is priced: it cannot be made free; create a tier of its own for that.", []),
    "SALES_NOT_OPEN": ("Sales of tier NYE_VIP open at 2026-12-01T10:00:00+00:00.", []),
    "EVENT_NOT_FOUND": ("No event 'new-year-2027'.", []),
    "EVENT_ALREADY_EXISTS": ("Event 'new-year-2027' exists already.", []),
    "REQUEST_TIMEOUT": ("The request body did not arrive within 5 s.", []),
    "REQUEST_ENTITY_TOO_LARGE": ("The data value transmitted exceeds the capacity limit.", []),
    "UNSUPPORTED_MEDIA_TYPE": ("Send the request body as application/json.", []),
    "INSUFFICIENT_TICKETS": (
        "Only 3 VIP ticket(s) left, 5 requested.",
        [{"path": "quantity", "message": "3 available"}],
    ),
    "USER_LIMIT_EXCEEDED": ("At most 4 VIP ticket(s) per user; alice has 4.", []),
    "IDEMPOTENCY_KEY_REUSED": ("Idempotency-Key 'order-42' was used for another booking.", []),
    "TOO_MANY_REQUESTS": ("20 per 1 second", []),
    "LEDGER_BUSY": ("Gave up after 40 conflicting attempts; retry later.", []),
    "OUTCOME_UNKNOWN": (
        "The recording of this request was interrupted; whether it was stored is unknown. "
        "Retry with the same Idempotency-Key.",
        [],
    ),
    "STORE_UNAVAILABLE": ("The event store is not answering; retry later.", []),
    "SERVICE_UNAVAILABLE": ("The token issuer's keys cannot be fetched; retry later.", []),
    "WEBHOOK_NOT_FOUND": ("No webhook endpoint 'we_4f9c2e7a1b3d4c5e8f6a7b8c9d0e1f2a'.", []),
    "PROJECTION_LAGGING": (
        "The read tables are 42.5 s behind (limit 30.0 s).",
        [{"path": "projectionLagSeconds", "message": "42.5"}],
    ),
    "BOOKING_CHECKED_IN": (f"Booking {BOOKING_ID} has a ticket admitted already: it is used.", []),
    "INVALID_TICKET_CODE": ("This is not a ticket of this ledger (forged or mistyped).", []),
    "ALREADY_CHECKED_IN": (
        f"Ticket VIP #1 of booking {BOOKING_ID} was checked in at 2026-12-05T19:01:58.011002+00:00 at gate north-1.",
        [
            {"path": "checkedInAt", "message": "2026-12-05T19:01:58.011002+00:00"},
            {"path": "gate", "message": "north-1"},
        ],
    ),
    "TICKET_NOT_VALID": (f"Ticket VIP #1 of booking {BOOKING_ID} does not admit: its booking is cancelled.", []),
    "QUEUE_PASS_REQUIRED": (
        "A waiting room is on for this sale: join the queue (POST /api/queue) and book with "
        "the pass it gives you (Queue-Pass header).",
        [],
    ),
    "QUEUE_PASS_EXPIRED": (
        "Your queue pass expired at 2026-11-24T10:05:04+00:00: join the queue again (POST /api/queue).",
        [],
    ),
    "QUEUE_TICKET_NOT_FOUND": ("No queue ticket 'abc'.", []),
    "WAITING_ROOM_NOT_FOUND": ("No waiting room '0b9c6f0e'.", []),
    "WAITING_ROOM_OFF": ("No waiting room is on: book directly.", []),
    "WAITING_ROOM_ALREADY_ON": ("A waiting room is on already; close it first.", []),
    "QUEUE_UNAVAILABLE": ("The waiting room's queue is not answering; retry later.", []),
    "TIER_NOT_SOLD_OUT": ("Tier VIP has 3 ticket(s) available: book them.", []),
    "ALREADY_WAITING": ("alice is on the waiting list of tier VIP already.", []),
    "NOT_ON_WAITING_LIST": ("alice has no place on the waiting list of tier VIP.", []),
    "PAYMENT_REQUIRED": ("Tier GALA is sold through a payment, not booked outright.", []),
    "REFUND_REQUIRED": (f"Booking {BOOKING_ID} was paid for: it is cancelled with its refund.", []),
    "INVALID_PAYMENT": ("Tier VIP is free: its tickets are booked, not paid for.", []),
    "PAYMENT_NOT_FOUND": (f"Booking {BOOKING_ID} has no payment.", []),
    "PAYMENT_REFUSED": ("The payment was refused: short.", []),
    "RESET_REFUSED": ("That reset link is wrong or expired.", []),
    "ORGANIZER_NOT_FOUND": ("No organizer 'acme'.", []),
    "ORGANIZER_ALREADY_EXISTS": ("An organizer 'acme' exists already.", []),
    "MEMBER_NOT_FOUND": ("No member 9b96bdcf-b9c0-511c-a66e-5acd7fff4f8d at 'acme'.", []),
    "KEY_NOT_FOUND": ("No key or device 182b7e1a-1b9d-4f4b-919a-d8c8f7b4bdc1.", []),
    "DEVICE_REVOKED": (
        "This device was revoked: it may not scan, and its scans kept offline are not merged "
        "(settle them with the event's manager).",
        [],
    ),
    "INVALID_SIGNATURE": ("Not an event signed by Stripe: no signature matches the payload.", []),
}
assert EXAMPLES.keys() == ERROR_STATUS.keys(), "every error code needs its example"
