"""Card payments through Stripe (docs/payments.md): a PaymentIntent per paid booking, the
booking confirmed only by Stripe's signed webhook, and card refunds sent through the API.

- ``start``: the booking's PaymentIntent, created with an idempotency key derived from its
  payment's id, so asking again (a retry, a second tab) gives the same intent, never a second
  charge. Its metadata names the payment, which is how the webhook finds it.
- ``checkout``: the booking's Stripe Checkout Session, for the booking page (which loads no
  Stripe script: it sends the buyer to the session's hosted page, which comes back to it). Its
  PaymentIntent carries the same metadata as ``start``'s, so the same webhook confirms it; its
  idempotency key is derived from the payment too, so one booking has one session.
- ``webhook``: the SDK checks the ``Stripe-Signature`` (HMAC of the body with the endpoint's
  secret, and its age); anything else is refused and nothing recorded. Only
  ``payment_intent.succeeded`` moves money, through ``PaymentDesk.receive`` with the intent's
  id as the provider id: ``match_payment`` applies it once (a redelivery is ``applied``), in
  time it confirms the hold, after the hold ended it is received and refunded (the late rule).
  Other events change nothing, so their order does not matter.
- ``send_refund``: what a card payment owes back, refunded through the API with an
  idempotency key derived from the payment and what it owes in total, then recorded by the
  refund's id, once. A failed call leaves the refund owed (the books list it); asking again
  (cancelling again, Stripe redelivering the late event) sends it with the same key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

import stripe

from application.errors import StripeEventRefusedError
from application.payments.desk import PaymentDesk, PaymentDetails
from application.payments.references import creditor_reference
from domain.bookings import BookingStatus
from domain.errors import InvalidPaymentError
from domain.payments import Incoming, Match, Payment, payment_id

log = logging.getLogger(__name__)

SUCCEEDED = "payment_intent.succeeded"


@dataclass(frozen=True)
class CardIntent:
    """What the buyer's page needs to pay a booking by card (Stripe Elements)."""

    payment_id: UUID
    booking_id: UUID
    intent_id: str
    client_secret: str
    amount_due: int
    currency: str


@dataclass(frozen=True)
class CheckoutSession:
    """Stripe's hosted payment page for a booking: where the booking page sends its buyer."""

    payment_id: UUID
    booking_id: UUID
    session_id: str
    url: str


class CardPayments:
    """Stripe's side of the payment desk; made only where ``STRIPE_SECRET_KEY`` is set."""

    def __init__(self, desk: PaymentDesk, secret_key: str, webhook_secret: str, api_base: str = "") -> None:
        self.desk = desk
        self.webhook_secret = webhook_secret
        self.stripe = stripe.StripeClient(
            secret_key, base_addresses={"api": api_base} if api_base else {}, max_network_retries=2
        )

    def start(self, booking_id: UUID) -> CardIntent:
        """The PaymentIntent of a held booking of a paid tier: the same one every time."""
        details = self._awaiting(booking_id)
        intent = self.stripe.v1.payment_intents.create(
            params={
                "amount": details.amount_due,
                "currency": details.currency.lower(),
                "automatic_payment_methods": {"enabled": True},
                "metadata": {"payment_id": str(details.payment_id), "booking_id": str(booking_id)},
            },
            options={"idempotency_key": f"payment-intent:{details.payment_id}"},
        )
        return CardIntent(
            details.payment_id, booking_id, intent.id, intent.client_secret or "", details.amount_due, details.currency
        )

    def checkout(self, booking_id: UUID, return_url: str) -> CheckoutSession:
        """The Checkout Session of a held booking of a paid tier: the same one every time
        (asked again with another ``return_url``, Stripe refuses the reused key). Its expiry is
        left at Stripe's default: Stripe allows none sooner than 30 minutes, longer than short
        times to pay; money paid on it after the hold ended is refunded by the late rule."""
        details = self._awaiting(booking_id)
        metadata = {"payment_id": str(details.payment_id), "booking_id": str(booking_id)}
        session = self.stripe.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": details.currency.lower(),
                            "unit_amount": details.amount_due,
                            "product_data": {"name": f"{details.tier} tickets"},
                        },
                    }
                ],
                "payment_intent_data": {"metadata": metadata},
                "metadata": metadata,
                "client_reference_id": str(details.payment_id),
                "success_url": return_url,
                "cancel_url": return_url,
            },
            options={"idempotency_key": f"checkout-session:{details.payment_id}"},
        )
        return CheckoutSession(details.payment_id, booking_id, session.id, session.url or "")

    def _awaiting(self, booking_id: UUID) -> PaymentDetails:
        details = self.desk.open(booking_id)
        if details.booking_status != BookingStatus.HELD or details.received:
            raise InvalidPaymentError(f"Booking {booking_id} is not awaiting payment.")
        return details

    def webhook(self, payload: bytes, signature: str) -> Match | None:
        """Apply one signed event; the match of a ``payment_intent.succeeded``, else None."""
        try:
            event = stripe.Webhook.construct_event(payload.decode(), signature, self.webhook_secret)
        except (ValueError, stripe.SignatureVerificationError) as error:
            raise StripeEventRefusedError(f"Not an event signed by Stripe: {error}") from error
        if event.type != SUCCEEDED:
            return None
        intent = event.data.object.to_dict()
        paying = _named_payment(intent.get("metadata") or {})
        incoming = Incoming(int(intent["amount_received"]), str(intent["currency"]).upper(), "card", str(intent["id"]))
        match = self.desk.receive(paying, incoming)
        if match in (Match.LATE, Match.APPLIED) and paying is not None:  # applied: a refund not sent before
            self.send_refund(paying)
        return match

    def send_refund(self, paying: UUID) -> None:
        """Refund through Stripe what the card payment ``paying`` owes back, if anything."""
        payment = self.desk.aggregates.find(paying, Payment)
        if payment is None or payment.card_payment is None or not payment.refund_owed:
            return
        try:
            refund = self.stripe.v1.refunds.create(
                params={"payment_intent": payment.card_payment, "amount": payment.refund_owed},
                options={"idempotency_key": f"refund:{payment.id}:{payment.refund_requested}"},
            )
        except stripe.StripeError:
            log.exception("Refund of payment %s not sent; it stays owed", payment.id)
            return
        self.desk.refunded(payment.booking_id, int(refund.amount), "card", refund.id)

    def refund_cancelled(self, booking_id: UUID) -> None:
        """After a booking is cancelled: send its card refund, if it was paid by card."""
        self.send_refund(payment_id_of(booking_id))


def payment_id_of(booking_id: UUID) -> UUID:
    return payment_id(creditor_reference(booking_id))


def _named_payment(metadata: dict[str, str]) -> UUID | None:
    """The payment an intent's metadata names; None for an intent this ledger did not make."""
    try:
        return UUID(metadata["payment_id"])
    except (KeyError, ValueError):
        return None
