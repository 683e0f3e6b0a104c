"""Money: what a paid booking costs, and every payment and refund of it, as events.

A tier whose event (show) takes payment carries the show's ``PaymentTerms``. Its tickets
are never sold outright: a buyer gets a hold that lasts the terms' time to pay, and the
hold is confirmed only in the recording that receives its payment. A ``Payment``
aggregate keeps one booking's money: opened with what is due, then each payment received
(in integer minor units, the terms' currency, its method and the provider's id) and each
refund requested and sent. Nothing is a mutable "paid" flag: what was received, refunded
and still owed back is the sum of its events, and each provider id is applied once.

``match_payment`` is the one decision of what an incoming payment is (paid, late, short,
over, a duplicate, in another currency, unknown, or already applied): the box office,
the bank statement import and the property tests all use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidPaymentError

# ISO 4217 currencies accepted for a sale, with their minor units' exponent.
CURRENCY_EXPONENTS = {
    "EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2,
    "CZK": 2, "HUF": 2, "CAD": 2, "AUD": 2, "NZD": 2, "JPY": 0, "KRW": 0, "ISK": 0,
}  # fmt: skip
METHODS = ("bank_transfer", "cash", "card_terminal", "card")
MAX_SECONDS_TO_PAY = 30 * 24 * 3600


@dataclass(frozen=True)
class PaymentTerms:
    """How an event's sale takes money: its currency, how long a buyer has to pay (the
    hold's time), and the share of what was received given back when a booking is cancelled."""

    currency: str
    seconds_to_pay: int
    refund_percent: int = 100

    def __post_init__(self) -> None:
        if self.currency not in CURRENCY_EXPONENTS:
            raise InvalidPaymentError(f"Currency must be one of {', '.join(CURRENCY_EXPONENTS)}.")
        if not 60 <= self.seconds_to_pay <= MAX_SECONDS_TO_PAY:
            raise InvalidPaymentError(f"Time to pay is 60 to {MAX_SECONDS_TO_PAY} seconds.")
        if not 0 <= self.refund_percent <= 100:
            raise InvalidPaymentError("The refund on cancellation is 0 to 100 percent.")

    def as_stored(self) -> dict[str, Any]:
        return {"currency": self.currency, "seconds_to_pay": self.seconds_to_pay, "refund_percent": self.refund_percent}

    @classmethod
    def stored(cls, terms: dict[str, Any] | None) -> PaymentTerms | None:
        return None if terms is None else cls(**terms)

    def minor_units(self, price: Decimal) -> int:
        """A price (a decimal of the currency) in whole minor units; raise if it has more digits."""
        minor = price.scaleb(CURRENCY_EXPONENTS[self.currency])
        if minor != minor.to_integral_value():
            raise InvalidPaymentError(f"{price} {self.currency} is not a whole number of minor units.")
        return int(minor)


@dataclass(frozen=True)
class Incoming:
    """Money that arrived for a payment: minor units, currency, how, and the provider's id
    (a bank entry's reference, a till receipt's number) that makes it apply once."""

    amount: int
    currency: str
    method: str
    provider_id: str


def payment_id(reference: str) -> UUID:
    """A payment's id, derived from its creditor reference: a bank credit names its payment."""
    return uuid5(NAMESPACE_URL, f"payment:{reference}")


def check_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise InvalidPaymentError(f"An amount is a whole number of minor units ≥ 1, got {amount!r}.")


class Match(StrEnum):
    """What an incoming payment is to the booking it names."""

    PAID = "paid"  # exact, in time: the booking is confirmed with it
    LATE = "late"  # exact, but the hold ended first: received and refunded in full
    SHORT = "short"  # less than due: left for a person
    OVER = "over"  # more than due: left for a person
    DUPLICATE = "duplicate"  # the booking was paid already: left for a person
    CURRENCY = "currency"  # not the sale's currency: left for a person
    UNKNOWN = "unknown"  # names no payment: left for a person
    APPLIED = "applied"  # this very payment (its provider id) was applied already: nothing to do


LEFT_FOR_A_PERSON = frozenset({Match.SHORT, Match.OVER, Match.DUPLICATE, Match.CURRENCY, Match.UNKNOWN})


class Payment(Aggregate):
    """One booking's money: what it costs, what was received, refunded and is owed back."""

    class Opened(Aggregate.Created):
        booking_id: UUID
        tier: str
        user_id: str
        reference: str
        amount_due: int
        currency: str
        due_at: datetime
        refund_percent: int

    class Started(Aggregate.Event):
        method: str
        provider_id: str

    class Received(Aggregate.Event):
        amount: int
        currency: str
        method: str
        provider_id: str

    class Failed(Aggregate.Event):
        method: str
        provider_id: str
        reason: str

    class RefundRequested(Aggregate.Event):
        amount: int
        reason: str

    class Refunded(Aggregate.Event):
        amount: int
        method: str
        provider_id: str

    @classmethod
    def open(
        cls, booking_id: UUID, tier: str, user_id: str, reference: str, amount_due: int, terms: PaymentTerms,
        due_at: datetime,
    ) -> Payment:  # fmt: skip
        check_amount(amount_due)
        return cls._create(
            cls.Opened, id=payment_id(reference), booking_id=booking_id, tier=tier, user_id=user_id,
            reference=reference, amount_due=amount_due, currency=terms.currency, due_at=due_at,
            refund_percent=terms.refund_percent,
        )  # fmt: skip

    @event(Opened)
    def __init__(
        self, booking_id: UUID, tier: str, user_id: str, reference: str, amount_due: int, currency: str,
        due_at: datetime, refund_percent: int,
    ) -> None:  # fmt: skip
        self.booking_id = booking_id
        self.tier = tier
        self.user_id = user_id
        self.reference = reference
        self.amount_due = amount_due
        self.currency = currency
        self.due_at = due_at
        self.refund_percent = refund_percent
        self.received = 0
        self.refund_requested = 0
        self.refunded = 0
        self.applied: frozenset[str] = frozenset()  # provider ids received or refunded; replaced, never changed
        self.card_payment: str | None = None  # the card provider's id of the money received by card, to refund it

    @property
    def refund_owed(self) -> int:
        """Refunds requested and not yet sent."""
        return self.refund_requested - self.refunded

    @property
    def cancellation_refund(self) -> int:
        """What cancelling gives back, by the policy the buyer paid under: the percentage of
        what was received, rounded down, never above what is still kept."""
        return min(self.received * self.refund_percent // 100, self.kept)

    @property
    def kept(self) -> int:
        """What the organizer keeps: received, less every refund requested (sent or owed)."""
        return self.received - self.refund_requested

    def start(self, method: str, provider_id: str) -> None:
        """A buyer began paying (bank details handed out, a card payment created)."""
        self._check_method(method)
        self._start(method=method, provider_id=provider_id)

    @event(Started)
    def _start(self, method: str, provider_id: str) -> None:
        pass

    def receive(self, amount: int, currency: str, method: str, provider_id: str) -> None:
        """Record money received (``match_payment`` decided it belongs here); once per provider id."""
        check_amount(amount)
        self._check_method(method)
        if currency != self.currency:
            raise InvalidPaymentError(f"Payment {self.id} is in {self.currency}, not {currency}.")
        if provider_id in self.applied:
            raise InvalidPaymentError(f"Payment {provider_id!r} was applied already.")
        self._receive(amount=amount, currency=currency, method=method, provider_id=provider_id)

    @event(Received)
    def _receive(self, amount: int, currency: str, method: str, provider_id: str) -> None:
        self.received += amount
        self.applied = self.applied | {provider_id}
        if method == "card":
            self.card_payment = provider_id

    def fail(self, method: str, provider_id: str, reason: str) -> None:
        self._fail(method=method, provider_id=provider_id, reason=reason)

    @event(Failed)
    def _fail(self, method: str, provider_id: str, reason: str) -> None:
        pass

    def request_refund(self, amount: int, reason: str) -> None:
        """Owe ``amount`` back: never more than was received and not already owed back."""
        check_amount(amount)
        if amount > self.kept:
            raise InvalidPaymentError(f"A refund of {amount} exceeds the {self.kept} kept of payment {self.id}.")
        self._request_refund(amount=amount, reason=reason)

    @event(RefundRequested)
    def _request_refund(self, amount: int, reason: str) -> None:
        self.refund_requested += amount

    def refund(self, amount: int, method: str, provider_id: str) -> None:
        """Record a refund sent: never more than is owed back; once per provider id."""
        check_amount(amount)
        self._check_method(method)
        if amount > self.refund_owed:
            raise InvalidPaymentError(f"A refund of {amount} exceeds the {self.refund_owed} owed by payment {self.id}.")
        if provider_id in self.applied:
            raise InvalidPaymentError(f"Refund {provider_id!r} was recorded already.")
        self._refund(amount=amount, method=method, provider_id=provider_id)

    @event(Refunded)
    def _refund(self, amount: int, method: str, provider_id: str) -> None:
        self.refunded += amount
        self.applied = self.applied | {provider_id}

    @staticmethod
    def _check_method(method: str) -> None:
        if method not in METHODS:
            raise InvalidPaymentError(f"A payment method is one of {', '.join(METHODS)}, not {method!r}.")


def match_payment(payment: Payment | None, hold_active: bool, amount: int, currency: str, provider_id: str) -> Match:
    """What an incoming payment of ``amount`` ``currency`` (the provider's ``provider_id``)
    is to ``payment`` (None: it names none), whose booking's hold is active or not. A
    payment applied already is that, before anything else, so a redelivery changes nothing."""
    if payment is None:
        return Match.UNKNOWN
    if provider_id in payment.applied:
        return Match.APPLIED
    if currency != payment.currency:
        return Match.CURRENCY
    if payment.received > 0:
        return Match.DUPLICATE
    if amount < payment.amount_due:
        return Match.SHORT
    if amount > payment.amount_due:
        return Match.OVER
    return Match.PAID if hold_active else Match.LATE
