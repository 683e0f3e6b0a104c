"""A paid hold's payment as it is opened: what the hold costs, its creditor reference, its
deadline (the hold's). The batch that records a hold on a paid tier opens its payment in the
same recording (``application/booking/batch.py``), so a hold's money is never looked for
before it can be paid; the desk opens one for a hold recorded without it (a waiting list's
offer, a hold from before payments were opened with their holds), and a price change opens
those of the tier's open offers first, at the price they were offered at
(``application/booking/tiers.py``). What a hold costs is the tier's price when its payment
opens: the price it was held at (but for a hold from before, which the tier does not list
as it lists its offers: the price when its payment is first asked for)."""

from __future__ import annotations

from application.payments.references import creditor_reference
from domain.bookings import Booking
from domain.errors import InvalidPaymentError
from domain.payments import Payment
from domain.tiers import TicketTier


def opened_payment(tier: TicketTier, booking: Booking) -> Payment:
    """The new payment of ``booking``, held on ``tier``; raise if the tier is free or the
    booking no hold."""
    terms = tier.payment_terms
    if terms is None:
        raise InvalidPaymentError(f"Tier {tier.code} is free: its tickets are booked, not paid for.")
    if booking.expires_at is None:  # cannot be: a paid tier sells only by holds
        raise InvalidPaymentError(f"Booking {booking.id} was not sold through a payment.")
    amount = terms.minor_units(tier.price) * booking.quantity
    reference = creditor_reference(booking.id)
    return Payment.open(booking.id, tier.code, booking.user_id, reference, amount, terms, booking.expires_at)
