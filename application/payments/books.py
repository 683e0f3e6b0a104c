"""The books: every payment, bank credit and event's money, read from the ledger's events.

Read by scanning the notification log for the payments' and credits' creation events (a
page at a time, filtered by topic in the store), then each aggregate as it is now: exact,
never behind, and costly in proportion to the number of payments, which is why only the
administration, the audit and the exports read it, never a buyer's request.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.utils import get_topic

from application.booking.ledger import BookingLedger
from domain.bank_credits import BankCredit
from domain.bookings import Booking, BookingStatus
from domain.payments import Payment
from domain.shows import DEFAULT_SHOW, Show

PAGE = 500


@dataclass(frozen=True)
class PaymentLine:
    """A payment with its event and its booking as they are now."""

    show: str
    payment: Payment
    booking: Booking

    @property
    def confirmed(self) -> bool:
        return self.booking.status == BookingStatus.CONFIRMED


@dataclass
class EventMoney:
    """One event's money in one currency (minor units): never added across currencies."""

    show: str
    currency: str
    received: int = 0
    refund_requested: int = 0
    refunded: int = 0
    paid_orders_cost: int = 0  # what the bookings confirmed now cost
    retained: int = 0  # kept of cancelled bookings, by the refund policy
    paid_bookings: int = 0

    @property
    def kept(self) -> int:
        return self.received - self.refund_requested

    @property
    def refunds_owed(self) -> int:
        return self.refund_requested - self.refunded


class MoneyBooks:
    """The ledger's money, as the dashboard, the audit and the exports read it."""

    def __init__(self, ledger: BookingLedger) -> None:
        self.ledger = ledger

    def payments(self) -> list[PaymentLine]:
        shows = self.show_of_tiers()
        lines = []
        for payment_id in self._created(Payment.Opened):
            payment = self.ledger.aggregates.find(payment_id, Payment)
            booking = self.ledger.find_booking(payment.booking_id) if payment else None
            if payment is None or booking is None:  # cannot be: both are in the store
                raise RuntimeError(f"payment {payment_id} or its booking is missing")
            lines.append(PaymentLine(shows.get(payment.tier, DEFAULT_SHOW), payment, booking))
        return lines

    def credits(self) -> list[BankCredit]:
        found = (self.ledger.aggregates.find(credit_id, BankCredit) for credit_id in self._created(BankCredit.Recorded))
        return [credit for credit in found if credit is not None]

    def waiting_for_a_person(self) -> list[BankCredit]:
        return [credit for credit in self.credits() if credit.waits_for_a_person]

    def money_per_event(self, lines: list[PaymentLine] | None = None) -> list[EventMoney]:
        totals: dict[tuple[str, str], EventMoney] = {}
        for line in self.payments() if lines is None else lines:
            payment = line.payment
            money = totals.setdefault((line.show, payment.currency), EventMoney(line.show, payment.currency))
            money.received += payment.received
            money.refund_requested += payment.refund_requested
            money.refunded += payment.refunded
            if line.confirmed:
                money.paid_orders_cost += payment.amount_due
                money.paid_bookings += 1
            elif line.booking.status == BookingStatus.CANCELLED:
                money.retained += payment.kept
        return sorted(totals.values(), key=lambda m: (m.show, m.currency))

    def show_of_tiers(self) -> dict[str, str]:
        shows = {}
        for show_id in self._created(Show.Created):
            show = self.ledger.aggregates.find(show_id, Show)
            if show is not None:
                shows.update({tier: show.code for tier in show.tiers})
        return shows

    def _created(self, event_class: type) -> Iterator[UUID]:
        """The ids of the aggregates created by ``event_class``, in the order they were."""
        recorder, topic, start = self.ledger.recorder, get_topic(event_class), 1
        while True:
            page = recorder.select_notifications(start, PAGE, topics=[topic])
            yield from (UUID(str(notification.originator_id)) for notification in page)
            if len(page) < PAGE:
                return
            start = page[-1].id + 1
