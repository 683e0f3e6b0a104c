"""Errors the domain raises when a command would break an invariant.

Each command checks its rule *before* recording an event, so a raised error means
nothing was recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from domain.tickets import Scan


class LedgerError(Exception):
    """Base class of every error the ledger's rules raise."""


class InvalidTierError(LedgerError, ValueError):
    """Raised when a tier would be created with a bad code, price or capacity."""


class InvalidQuantityError(LedgerError, ValueError):
    """Raised when a ticket quantity is not a whole number of at least one."""


class InvalidShowError(LedgerError, ValueError):
    """Raised when an event (a show) would be created with a bad id, name, tiers or window."""


class SalesNotOpenError(LedgerError):
    """Raised when a tier of an event is booked before its sale window opens."""


class InvalidOrderError(LedgerError, ValueError):
    """Raised when an order would have no items, too many, or one tier twice."""


class InsufficientTicketsError(LedgerError):
    """Raised when a booking asks for more tickets than the tier has available."""

    def __init__(self, tier: str, requested: int, available: int) -> None:
        super().__init__(f"Tier {tier} has {available} ticket(s) available, {requested} requested.")
        self.tier = tier
        self.requested = requested
        self.available = available


class UserLimitExceededError(LedgerError):
    """Raised when a booking would give one user more tickets of a tier than its limit."""


class SalesClosedError(LedgerError):
    """Raised when a booking is made on a tier whose sales are closed, or its price changed."""


class PriceChangeRefusedError(LedgerError):
    """Raised when a tier's price would change between free (0) and priced, either way:
    the tier's payment terms (or their absence) were decided with its price at creation."""


class BookingAlreadyCancelledError(LedgerError):
    """Raised when a booking that is already cancelled is cancelled again."""


class NotBookingOwnerError(LedgerError):
    """Raised when a user tries to change a booking that belongs to someone else; its
    message is that of a booking that does not exist, which is all a stranger may learn."""


class BookingNotConfirmedError(LedgerError):
    """Raised when a booking that is not confirmed (a hold, or one that ended) is cancelled."""


class HoldNotActiveError(LedgerError):
    """Raised when a hold is confirmed, released or expired after it has ended."""


class HoldExpiredError(HoldNotActiveError):
    """Raised when a hold is confirmed or released at or after its expiry time."""


class BookingCheckedInError(LedgerError):
    """Raised when a booking is cancelled after one of its tickets was admitted at the door."""


class TicketNotValidError(LedgerError):
    """Raised when a ticket is scanned whose booking is not confirmed (cancelled, or a hold)
    or that names a seat its booking does not have."""


class TicketAlreadyCheckedInError(LedgerError):
    """Raised when a ticket admitted already is scanned again online; carries the first scan."""

    def __init__(self, ticket: str, first: Scan) -> None:
        super().__init__(f"Ticket {ticket} was checked in at {first.scanned_at.isoformat()} at gate {first.gate}.")
        self.first = first


class InvalidWaitingRoomError(LedgerError, ValueError):
    """Raised when a waiting room would be opened or changed with bad terms (a negative
    rate, a pass window under a second, a malformed tier code)."""


class WaitingRoomClosedError(LedgerError):
    """Raised when a waiting room that is closed is changed again."""


class PaymentRequiredError(LedgerError):
    """Raised when a tier whose sale takes payment is sold outright, or its hold confirmed,
    without the payment being received (its tickets are bought through a payment)."""


class RefundRequiredError(LedgerError):
    """Raised when a paid tier's booking is cancelled without its refund being decided in
    the same recording (a paid booking is cancelled through the payments)."""


class InvalidPaymentError(LedgerError, ValueError):
    """Raised when a payment, refund or payment terms are malformed: an amount not a whole
    number of minor units ≥ 1, an unknown currency, a refund above what was received."""


class InvalidStaffError(LedgerError, ValueError):
    """Raised when a staff account, organizer, key or device command breaks its rule (a bad
    email or code, a one-time code used twice, a role that is not there)."""


class TierNotSoldOutError(LedgerError):
    """Raised when a buyer joins the waiting list of a tier that has the tickets they ask
    for and nobody waiting: they are bought, not waited for."""


class AlreadyWaitingError(LedgerError):
    """Raised when a buyer joins a tier's waiting list while already on it or holding an
    offer from it: one place per buyer and tier, so nobody is offered twice at once."""


class NotWaitingError(LedgerError):
    """Raised when a buyer who has no place on a tier's waiting list leaves it or asks for
    their place."""
