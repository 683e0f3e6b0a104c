"""``PaymentDesk``: a paid booking's money, decided on the booking, its tier and its payment
together and saved in one recording (with the ledger's retries on a conflict).

- ``open``: a paid hold's payment, with what it costs, its reference and its deadline (the
  hold's); opened with the hold, or else the first time it is asked for; again, the same one.
- ``receive``: money that names a payment; ``match_payment`` decides what it is, in a batch
  of the ledger's group commit with the tier's other requests (``application/booking/paying.py``).
  Exact and in time: received, and the hold confirmed in the same recording (tickets exist
  only with their money). Exact but after the hold ended: received and refunded in full,
  never a seat sold twice (docs/payments.md says why). Anything else records nothing on the
  payment; a bank credit keeps it for a person.
- ``cancel``: a paid booking cancelled, its seats back on sale and its refund (the event's
  policy, never above what was kept) owed, in one recording; a free one as the ledger cancels.
- ``refunded``: a refund owed was sent (the bank transfer made, the cash handed back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.booking.ledger import BookingLedger
from application.booking.paying import Beside, PendingPayment
from application.errors import PaymentNotFoundError, PaymentRefusedError
from application.payments.opening import opened_payment
from application.payments.references import creditor_reference
from domain.bookings import Booking, BookingStatus, BookingSummary
from domain.errors import InvalidPaymentError
from domain.payments import Incoming, Match, Payment, payment_id


@dataclass(frozen=True)
class PaymentDetails:
    """A paid booking's money as its buyer and the staff see it (minor units)."""

    payment_id: UUID
    booking_id: UUID
    tier: str
    user_id: str
    reference: str
    currency: str
    amount_due: int
    due_at: datetime
    received: int
    refund_requested: int
    refunded: int
    booking_status: BookingStatus

    @classmethod
    def of(cls, payment: Payment, booking: Booking) -> PaymentDetails:
        return cls(
            payment.id, payment.booking_id, payment.tier, payment.user_id, payment.reference, payment.currency,
            payment.amount_due, payment.due_at, payment.received, payment.refund_requested, payment.refunded,
            booking.status,
        )  # fmt: skip


class PaymentDesk:
    """The payments' use cases, on the ledger's aggregates, clock and retries."""

    def __init__(self, ledger: BookingLedger) -> None:
        self.ledger = ledger
        self.aggregates = ledger.aggregates

    def open(self, booking_id: UUID, owner: str | None = None) -> PaymentDetails:
        """The payment of a held booking on a paid tier (``owner``'s, if given): opened with
        the hold, or (a waiting list's offer, a hold from before) the first time it is asked
        for. A booking of a free tier has none."""
        booking = self.aggregates.booking(booking_id, owner)
        found = self._payment(booking_id)
        if found is not None:
            return PaymentDetails.of(found, booking)
        payment = opened_payment(self.aggregates.tier(booking.tier), booking)

        def attempt() -> PaymentDetails:  # opened meanwhile by another request: that one
            found = self._payment(booking_id)
            if found is not None:
                return PaymentDetails.of(found, booking)
            self.aggregates.save(payment)
            return PaymentDetails.of(payment, booking)

        return self.ledger.retries(attempt)

    def details(self, booking_id: UUID, owner: str | None = None) -> PaymentDetails:
        booking = self.aggregates.booking(booking_id, owner)
        payment = self._payment(booking_id)
        if payment is None:
            return self.open(booking_id, owner)
        return PaymentDetails.of(payment, booking)

    def receive(self, paying: UUID | None, incoming: Incoming, beside: Beside | None = None) -> Match:
        """Apply ``incoming`` to the payment ``paying`` (None: no payment was named) and
        record, with it, whatever ``beside`` adds; return the match. A payment names its
        tier and booking: the ledger's batches decide it on the tier (``receive_payment``)."""
        named = None if paying is None else self.aggregates.named_by(paying, Payment)
        if named is not None:
            return self.ledger.receive_payment(PendingPayment(named.tier, named.booking_id, named.id, incoming, beside))

        def attempt() -> Match:  # names no payment: only what ``beside`` keeps for a person
            extra = list(beside(Match.UNKNOWN, None)) if beside else []
            if extra:
                self.aggregates.save(*extra)
            return Match.UNKNOWN

        return self.ledger.retries(attempt)

    def pay_at_counter(self, booking_id: UUID, incoming: Incoming) -> PaymentDetails:
        """The box office takes the exact amount for a hold still active; anything else is
        refused with its reason and nothing recorded (the cash stays with the buyer)."""
        self.open(booking_id)
        match = self.receive(payment_id(creditor_reference(booking_id)), incoming, refuse_unless_paid)
        if match not in (Match.PAID, Match.APPLIED):
            raise PaymentRefusedError(match)
        return self.details(booking_id)

    def cancel(self, booking_id: UUID, user_id: str, idempotency_key: str | None = None) -> BookingSummary:
        """Cancel the user's booking: on a paid tier, with its refund owed, in one recording.
        Its reads too are answered within the write timeout, or 503: unbounded, while no node
        led, a cancel waited for a pooled connection twice (2.0-2.5 s, verify --cluster)."""
        with self.ledger.bounded():
            return self._cancel(booking_id, user_id, idempotency_key, None)

    def cancel_for_user(self, booking_id: UUID, actor: str, idempotency_key: str | None = None) -> BookingSummary:
        """Staff (``actor``) cancel a booking for its user, at the counter: exactly as the
        user's own cancel (its refund, the door's rule), the event naming ``actor``."""
        with self.ledger.bounded():
            user_id = self.aggregates.booking(booking_id).user_id
            return self._cancel(booking_id, user_id, idempotency_key, actor)

    def _cancel(self, booking_id: UUID, user_id: str, idempotency_key: str | None, actor: str | None) -> BookingSummary:
        first = self.aggregates.booking(booking_id, user_id)
        if self.aggregates.tier(first.tier).payment_terms is None:
            return self.ledger.cancel(booking_id, user_id, idempotency_key, actor)

        def attempt() -> BookingSummary:
            tier = self.aggregates.tier(first.tier)
            booking = self.aggregates.booking(booking_id)
            payment = self._payment(booking_id)
            status = booking.status
            booking.cancel(user_id, idempotency_key, actor)
            if booking.status != status:
                if payment is None:  # cannot be: a paid booking was confirmed with its payment
                    raise InvalidPaymentError(f"Booking {booking_id} has no payment.")
                refund = payment.cancellation_refund
                if refund:
                    payment.request_refund(refund, "cancelled")
                tier.release(
                    booking.id, booking.quantity, booking.user_id, refund_decided=True, now=self.ledger.clock()
                )
                self.aggregates.save(tier, booking, payment)
            return booking.summary()

        return self.ledger.retries(attempt)

    def refunded(self, booking_id: UUID, amount: int, method: str, provider_id: str) -> PaymentDetails:
        """Record a refund sent: never more than is owed back, once per provider id (a
        retry with the same id changes nothing)."""

        def attempt() -> PaymentDetails:
            booking = self.aggregates.booking(booking_id)
            payment = self._payment(booking_id)
            if payment is None:
                raise PaymentNotFoundError(f"Booking {booking_id} has no payment.")
            if provider_id not in payment.applied:
                payment.refund(amount, method, provider_id)
                self.aggregates.save(payment)
            return PaymentDetails.of(payment, booking)

        return self.ledger.retries(attempt)

    def _payment(self, booking_id: UUID) -> Payment | None:
        return self.aggregates.find(payment_id(creditor_reference(booking_id)), Payment)


def refuse_unless_paid(match: Match, _: Payment | None) -> Sequence[Aggregate]:
    """At the counter a late payment is not taken either: the buyer keeps the cash."""
    if match == Match.LATE:
        raise PaymentRefusedError(match)
    return ()
