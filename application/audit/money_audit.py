"""The books balance: every event's money checked against its bookings, from the events.

For every payment: what was received less every refund requested (``kept``) is exactly what
its booking now costs: all of it for a confirmed booking, what the policy keeps for a
cancelled one, nothing for a hold that ended unpaid (a late payment is refunded whole); no
refund above what was received, none sent above what was requested. Across payments, no
provider's payment is applied twice. Every sold ticket of a tier that takes payment belongs
to a booking confirmed with its payment (no ticket without money; free tiers have no
payments). Per event and currency, received − refunded requested = what the paid orders
cost + what cancellations kept: the dashboard shows those figures.
"""

from __future__ import annotations

from collections import Counter

from application.booking.ledger import BookingLedger
from application.payments.books import MoneyBooks, PaymentLine
from domain.bookings import BookingStatus
from domain.tiers import TicketTier


class MoneyAudit:
    def __init__(self, ledger: BookingLedger) -> None:
        self.ledger = ledger
        self.books = MoneyBooks(ledger)

    def verify(self) -> list[str]:
        """Every way the books do not balance, in words; empty: they balance to the cent."""
        lines = self.books.payments()
        problems = [problem for line in lines for problem in self.payment_problems(line)]
        applied = Counter(
            provider for line in lines for provider in line.payment.applied
        )  # each payment's own ids once
        problems += [f"provider payment {p!r} applied to {n} payments" for p, n in applied.items() if n > 1]
        problems += self.tickets_without_money(lines)
        for money in self.books.money_per_event(lines):
            if money.kept != money.paid_orders_cost + money.retained:
                problems.append(
                    f"event {money.show} ({money.currency}): kept {money.kept} != paid orders "
                    f"{money.paid_orders_cost} + retained {money.retained}"
                )
        return problems

    @staticmethod
    def payment_problems(line: PaymentLine) -> list[str]:
        payment, status = line.payment, line.booking.status
        name = f"payment {payment.reference} (booking {payment.booking_id}, {status})"
        problems = []
        if not 0 <= payment.refunded <= payment.refund_requested <= payment.received:
            problems.append(f"{name}: refunds {payment.refunded}/{payment.refund_requested} of {payment.received}")
        expected = {
            BookingStatus.CONFIRMED: payment.amount_due,
            BookingStatus.CANCELLED: payment.received - payment.received * payment.refund_percent // 100,
        }.get(status, 0)
        if payment.kept != expected:
            problems.append(f"{name}: keeps {payment.kept}, should keep {expected}")
        if status == BookingStatus.CONFIRMED and payment.received != payment.amount_due:
            problems.append(f"{name}: confirmed with {payment.received} of {payment.amount_due} received")
        return problems

    def tickets_without_money(self, lines: list[PaymentLine]) -> list[str]:
        """Every paid tier's sold tickets are bookings confirmed with their payment."""
        paid_seats: Counter[str] = Counter()
        for line in lines:
            if line.confirmed and line.payment.received >= line.payment.amount_due:
                paid_seats[line.payment.tier] += line.booking.quantity
        problems = []
        for tier_code in self.books.show_of_tiers():
            tier = self.ledger.find_tier(tier_code)
            if isinstance(tier, TicketTier) and tier.payment_terms is not None and tier.sold != paid_seats[tier_code]:
                problems.append(f"tier {tier_code}: {tier.sold} sold, {paid_seats[tier_code]} paid for")
        return problems
