"""The bookings' shapes that more than one resource takes or answers with: a booking or hold
request (and its ``Queue-Pass`` header), a booking as it is now, who asks to change one, and a
booking id in a path."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import request
from marshmallow import fields, validates_schema

from application import no_booking
from domain.bookings import BookingStatus
from web.identity.user_ids import UserId
from web.openapi.error_examples import BOOKING_ID
from web.schemas.fields import (
    CamelCaseSchema,
    ResponseSchema,
    check_quantity_limit,
    identifier,
    ticket_quantity,
)

QUEUE_PASS = "Queue-Pass"
QUEUE_PASS_HEADER = {
    "in": "header",
    "name": QUEUE_PASS,
    "required": False,
    "description": "While a waiting room is on for the tier: the pass `GET /api/queue/{ticketId}` gave the user "
    "when admitted (403 `QUEUE_PASS_REQUIRED` without one, `QUEUE_PASS_EXPIRED` once it lapsed); "
    "ignored otherwise.",
    "schema": {"type": "string"},
}


def queue_pass() -> str | None:
    """The request's ``Queue-Pass`` header: the waiting room's pass, checked by the application."""
    return request.headers.get(QUEUE_PASS)


class BookRequestSchema(CamelCaseSchema):
    user_id = UserId()
    tier = identifier(max_length=32)
    quantity = ticket_quantity()

    @validates_schema
    def quantity_within_limit(self, data: dict[str, Any], **_: Any) -> None:
        check_quantity_limit(data.get("quantity", 0))


BOOK_REQUEST = {"userId": "alice", "tier": "VIP", "quantity": 2}


class BookingSchema(ResponseSchema):
    booking_id = fields.UUID()
    user_id = fields.String()
    tier = fields.String()
    quantity = fields.Integer()
    status = fields.String(metadata={"enum": [status.value for status in BookingStatus]})
    created_at = fields.DateTime(format="iso")
    updated_at = fields.DateTime(format="iso")
    expires_at = fields.DateTime(
        format="iso",
        allow_none=True,
        metadata={"description": "when a hold ends unless confirmed; null if booked outright"},
    )


class CancelRequestSchema(CamelCaseSchema):
    """Who asks: only a booking's own user may cancel it, or confirm or release its hold;
    to anyone else it does not exist (404, as an unknown id)."""

    user_id = identifier()


BOOKING = {
    "bookingId": BOOKING_ID,
    "userId": "alice",
    "tier": "VIP",
    "quantity": 2,
    "status": "confirmed",
    "createdAt": "2026-11-24T08:41:16.609600+00:00",
    "updatedAt": "2026-11-24T08:41:16.609600+00:00",
    "expiresAt": None,
}


def parse_booking_id(text: str) -> UUID:
    """A path id that is not a UUID names no booking: 404, like any unknown id."""
    try:
        return UUID(text)
    except ValueError:
        raise no_booking(text) from None
