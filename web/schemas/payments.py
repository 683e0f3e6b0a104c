"""The payments' JSON: an event's payment terms (creating an event) and a booking's payment
(its buyer's instructions and the staff's view). Amounts are integers of the currency's minor
units (cents), as card and bank APIs carry them: never a float, never a decimal string to add."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, post_load, validate

from domain.bookings import BookingStatus
from domain.payments import CURRENCY_EXPONENTS, MAX_SECONDS_TO_PAY, PaymentTerms
from web.schemas.fields import CamelCaseSchema, ResponseSchema

PAYMENT_TERMS = (
    "the event's sale takes money: its priced tiers sell only through a payment "
    "(a hold lasting `secondsToPay`, confirmed when the money arrives); absent: free, booked outright"
)


class PaymentTermsSchema(CamelCaseSchema):
    currency = fields.String(required=True, validate=validate.OneOf(list(CURRENCY_EXPONENTS)))
    seconds_to_pay = fields.Integer(required=True, strict=True, validate=validate.Range(60, MAX_SECONDS_TO_PAY))
    refund_percent = fields.Integer(
        load_default=100,
        strict=True,
        validate=validate.Range(0, 100),
        metadata={"description": "of what was received, given back when a paid booking is cancelled"},
    )

    @post_load
    def terms(self, data: dict[str, Any], **_: Any) -> PaymentTerms:
        return PaymentTerms(**data)


class TermsSchema(ResponseSchema):
    """An event's payment terms as answered: what a buyer of its priced tiers pays in and by when."""

    currency = fields.String(metadata={"enum": list(CURRENCY_EXPONENTS)})
    seconds_to_pay = fields.Integer(metadata={"description": "how long a hold lasts: the time to pay"})
    refund_percent = fields.Integer(metadata={"description": "of what was received, given back on cancellation"})


class BankDetailsSchema(ResponseSchema):
    account_holder = fields.String(allow_none=True)
    iban = fields.String(allow_none=True)


class PaymentSchema(ResponseSchema):
    booking_id = fields.UUID()
    tier = fields.String()
    reference = fields.String(metadata={"description": "ISO 11649 creditor reference: give it with a bank transfer"})
    currency = fields.String()
    amount_due = fields.Integer(metadata={"description": "minor units"})
    due_at = fields.DateTime(format="iso", metadata={"description": "unpaid then, the hold expires"})
    received = fields.Integer()
    refund_requested = fields.Integer()
    refunded = fields.Integer()
    booking_status = fields.String(metadata={"enum": [status.value for status in BookingStatus]})


BOOKING_ID = "6b0f7c57-4d6e-4c1f-9a51-5f1a2b3c4d5e"
PAYMENT = {
    "bookingId": BOOKING_ID,
    "tier": "GALA",
    "reference": "RF38RNHQ5L1D0UET0DNIY1YH",
    "currency": "EUR",
    "amountDue": 9100,
    "dueAt": "2026-11-24T08:56:16.609600+00:00",
    "received": 0,
    "refundRequested": 0,
    "refunded": 0,
    "bookingStatus": "held",
}
