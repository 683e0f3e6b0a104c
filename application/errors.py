"""Every error of the use cases (the application layer), on top of the domain's rule errors."""

from __future__ import annotations

from domain.errors import LedgerError


class TierNotFoundError(LedgerError):
    """Raised when no tier has the given code."""


class ShowNotFoundError(LedgerError):
    """Raised when no event (show) has the given id."""


class ShowAlreadyExistsError(LedgerError):
    """Raised when an event (a show) is created with an id that is already taken."""


class TierAlreadyExistsError(LedgerError):
    """Raised when a tier is created with a code that is already taken."""


class BookingNotFoundError(LedgerError):
    """Raised when no booking has the given id, or none of the given user's has it:
    a stranger learns no more about a booking than about an id that names none."""


def no_booking(booking_id: object) -> BookingNotFoundError:
    """The one answer for an unknown booking and for someone else's: the same text."""
    return BookingNotFoundError(f"No booking '{booking_id}'.")


class IdempotencyKeyReusedError(LedgerError):
    """Raised when an idempotency key comes back with a different request."""


class LedgerBusyError(LedgerError):
    """Raised when a command lost the optimistic-concurrency race on every attempt.

    Nothing was recorded; the client may retry later (HTTP 503).
    """


class OutcomeUnknownError(LedgerError):
    """Raised when a booking's recording was interrupted or overran its wait, so this
    process cannot tell whether it was stored.

    Never a receipt: the client retries with the same Idempotency-Key, which returns
    the booking if it was stored and makes it once if not (HTTP 503).
    """


class StoreTimeoutError(LedgerError):
    """Raised when the event store did not answer within the write timeout
    (``POSTGRES_WRITE_TIMEOUT_MS``) before anything that could commit was sent:
    nothing was recorded, and the client may retry later (HTTP 503 ``STORE_UNAVAILABLE``)."""

    def __init__(
        self, message: str = "The event store did not answer in time; nothing was recorded. Retry later."
    ) -> None:  # noqa: E501
        super().__init__(message)


class WaitingRoomNotFoundError(LedgerError):
    """Raised when no waiting room has the given id."""


class WaitingRoomOffError(LedgerError):
    """Raised when the waiting room is asked for while none is on."""


class WaitingRoomAlreadyOnError(LedgerError):
    """Raised when a waiting room is turned on while another one is on."""


class PlaceNotFoundError(LedgerError):
    """Raised when the room that is on has no place with the given id (the API's queue ticket)."""


class QueuePassRequiredError(LedgerError):
    """Raised when a booking or hold on a tier behind the waiting room has no valid pass
    (none, forged, another user's, or an earlier room's): the buyer must join the queue."""


class QueuePassExpiredError(QueuePassRequiredError):
    """Raised when a booking or hold comes with a pass whose time is up: join again."""


class VersionNotFoundError(LedgerError):
    """Raised when a tier is asked for as it was at a version or time it never had."""


class InvalidTicketCodeError(LedgerError):
    """Raised when a scanned code is not a ticket this ledger signed (forged or mistyped)."""


class IdempotencySecretError(Exception):
    """Raised at start-up when this process's secret is not the one the store was set up with."""


class PaymentNotFoundError(LedgerError):
    """Raised when a booking has no payment (its tier is free, or none was opened)."""


class PaymentRefusedError(LedgerError):
    """Raised when money offered at the box office is not exactly what an active hold
    costs (short, over, late, another currency, paid already): nothing is recorded."""

    def __init__(self, match: object) -> None:
        super().__init__(f"The payment was refused: {match}.")
        self.match = match


class StripeEventRefusedError(LedgerError):
    """Raised when a request to the Stripe webhook is not an event Stripe signed with this
    endpoint's secret (forged, altered, too old, or no JSON): nothing is recorded."""
