"""Use cases of the booking ledger: the write side, built on the domain aggregates."""

from application.errors import (
    BookingNotFoundError,
    IdempotencyKeyReusedError,
    LedgerBusyError,
    OutcomeUnknownError,
    TierAlreadyExistsError,
    TierNotFoundError,
    no_booking,
)
from application.booking.ledger import BookingLedger, BookingReceipt, TierDetails

__all__ = [
    "BookingLedger",
    "BookingNotFoundError",
    "IdempotencyKeyReusedError",
    "BookingReceipt",
    "LedgerBusyError",
    "OutcomeUnknownError",
    "TierAlreadyExistsError",
    "TierDetails",
    "TierNotFoundError",
    "no_booking",
]
