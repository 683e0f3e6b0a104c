"""Card payments through Stripe (docs/payments.md), registered only where ``STRIPE_SECRET_KEY``
is set: the PaymentIntent a buyer's page pays a held booking with, and the webhook Stripe
reports it on. The booking is confirmed by the webhook alone, never by the page."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from marshmallow import fields

from application.payments.cards import CardPayments
from web.openapi.apidoc import Blueprint
from web.schemas.bookings import parse_booking_id
from web.schemas.fields import ResponseSchema
from web.services import services

blp = Blueprint("cards", __name__, url_prefix="/api", description="Card payments through Stripe")


class CardIntentSchema(ResponseSchema):
    payment_id = fields.String()
    booking_id = fields.String()
    intent_id = fields.String(metadata={"description": "the Stripe PaymentIntent's id"})
    client_secret = fields.String(metadata={"description": "for Stripe Elements on the buyer's page"})
    amount_due = fields.Integer(metadata={"description": "minor units"})
    currency = fields.String()


class CheckoutSessionSchema(ResponseSchema):
    payment_id = fields.String()
    booking_id = fields.String()
    session_id = fields.String(metadata={"description": "the Stripe Checkout Session's id"})
    url = fields.String(metadata={"description": "Stripe's page where the buyer pays; it sends them back to this site"})


class WebhookAnswerSchema(ResponseSchema):
    match = fields.String(allow_none=True, metadata={"description": "what the payment was; null: nothing to do"})


def cards() -> CardPayments:
    found = services().cards
    assert found is not None, "the blueprint is registered only with a Stripe key"
    return found


@blp.route("/bookings/<booking_id>/payment/card")
class CardPayment(MethodView):
    @blp.response(200, CardIntentSchema())
    @blp.errors("BOOKING_NOT_FOUND", "INVALID_PAYMENT", "STORE_UNAVAILABLE")
    def post(self, booking_id: str) -> Any:
        """The held booking's Stripe PaymentIntent: the same one however often it is asked
        for (its idempotency key is derived from the payment)."""
        return cards().start(parse_booking_id(booking_id))


@blp.route("/bookings/<booking_id>/payment/checkout")
class CardCheckout(MethodView):
    @blp.response(200, CheckoutSessionSchema())
    @blp.errors("BOOKING_NOT_FOUND", "INVALID_PAYMENT", "STORE_UNAVAILABLE")
    def post(self, booking_id: str) -> Any:
        """The held booking's Stripe Checkout Session, for the booking page: send the buyer to
        its ``url``; they come back to this site's page. The same session however often asked
        (its idempotency key is derived from the payment); the webhook confirms the booking."""
        return cards().checkout(parse_booking_id(booking_id), request.url_root)


@blp.route("/payments/stripe/webhook")
class StripeWebhook(MethodView):
    @blp.response(200, WebhookAnswerSchema())
    @blp.errors("INVALID_SIGNATURE", "STORE_UNAVAILABLE")
    def post(self) -> Any:
        """An event from Stripe, checked against ``STRIPE_WEBHOOK_SECRET`` by the SDK; a
        succeeded payment is applied once, however often and late it is delivered."""
        match = cards().webhook(request.get_data(), request.headers.get("Stripe-Signature", ""))
        return {"match": match}
