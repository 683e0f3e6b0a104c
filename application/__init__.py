"""Use cases of the booking ledger: the write side, built on the domain aggregates."""

from application.booking.ledger import BookingLedger
from application.booking.receipts import BookingReceipt, TierDetails
from application.errors import (
    BookingNotFoundError,
    IdempotencyKeyReusedError,
    LedgerBusyError,
    OutcomeUnknownError,
    TierAlreadyExistsError,
    TierNotFoundError,
    no_booking,
)

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
