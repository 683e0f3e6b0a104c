"""``/api/bookings/<id>/payment``: how to pay for a held booking of a paid tier.

Asked the first time, it opens the payment (what is due, its creditor reference, until when);
the booking's hold is placed as any hold (``POST /api/tickets/hold``), and lasts the event's
time to pay. The bank's details come from ``BANK_ACCOUNT_HOLDER`` and ``BANK_ACCOUNT_IBAN``."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from marshmallow import fields

from web.openapi.apidoc import Blueprint
from web.schemas.bookings import parse_booking_id
from web.schemas.payments import PAYMENT, BankDetailsSchema, PaymentSchema
from web.services import services

blp = Blueprint("payment", __name__, url_prefix="/api", description="Paying for a booking")


class InstructionsSchema(PaymentSchema):
    bank = fields.Nested(BankDetailsSchema(), metadata={"description": "where to send a bank transfer"})
    card = fields.Boolean(
        metadata={"description": "payable by card: `POST …/payment/checkout` (the server has a Stripe key)"}
    )


@blp.route("/bookings/<booking_id>/payment")
class BookingPayment(MethodView):
    @blp.response(
        200,
        InstructionsSchema(),
        example={
            **PAYMENT,
            "bank": {"accountHolder": "Concert Hall Ltd", "iban": "DE89370400440532013000"},
            "card": False,
        },
    )
    @blp.errors("BOOKING_NOT_FOUND", "INVALID_PAYMENT", "STORE_UNAVAILABLE")
    def get(self, booking_id: str) -> Any:
        """What a held booking of a paid tier costs, its reference and deadline, and the bank
        account to pay to; a booking of a free tier has none (422 ``INVALID_PAYMENT``)."""
        details = services().payments.details(parse_booking_id(booking_id))
        bank = {
            "account_holder": current_app.config.get("BANK_ACCOUNT_HOLDER") or None,
            "iban": current_app.config.get("BANK_ACCOUNT_IBAN") or None,
        }
        return {**details.__dict__, "bank": bank, "card": services().cards is not None}
