"""Every error leaves as ``{"error": {"code", "message", "details": [{"path", "message"}]}}``.

Domain and use-case errors map to HTTP statuses here, in one table, so no view needs
a try/except.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from flask import Flask, Response, jsonify, request
from marshmallow import ValidationError
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException, UnsupportedMediaType
from werkzeug.http import HTTP_STATUS_CODES

from application.errors import (
    BookingNotFoundError,
    IdempotencyKeyReusedError,
    InvalidTicketCodeError,
    LedgerBusyError,
    OutcomeUnknownError,
    PaymentNotFoundError,
    PaymentRefusedError,
    PlaceNotFoundError,
    QueuePassExpiredError,
    QueuePassRequiredError,
    ShowAlreadyExistsError,
    ShowNotFoundError,
    StoreTimeoutError,
    StripeEventRefusedError,
    TierAlreadyExistsError,
    TierNotFoundError,
    VersionNotFoundError,
    WaitingRoomAlreadyOnError,
    WaitingRoomNotFoundError,
    WaitingRoomOffError,
)
from application.staff.errors import (
    CredentialNotFoundError,
    DeviceRevokedError,
    MemberNotFoundError,
    OrganizerAlreadyExistsError,
    OrganizerNotFoundError,
    ResetRefusedError,
    SignInRefusedError,
    WeakPasswordError,
)
from domain.errors import (
    AlreadyWaitingError,
    BookingAlreadyCancelledError,
    BookingCheckedInError,
    BookingNotConfirmedError,
    HoldExpiredError,
    HoldNotActiveError,
    InsufficientTicketsError,
    InvalidOrderError,
    InvalidPaymentError,
    InvalidQuantityError,
    InvalidShowError,
    InvalidStaffError,
    InvalidTierError,
    InvalidWaitingRoomError,
    LedgerError,
    NotBookingOwnerError,
    NotWaitingError,
    PaymentRequiredError,
    PriceChangeRefusedError,
    RefundRequiredError,
    SalesClosedError,
    SalesNotOpenError,
    TicketAlreadyCheckedInError,
    TicketNotValidError,
    TierNotSoldOutError,
    UserLimitExceededError,
    WaitingRoomClosedError,
)
from projections.errors import InvalidWebhookError, WebhookNotFoundError
from web.http.server_contract import error_code

log = logging.getLogger(__name__)

STATUS_AND_CODE: dict[type[LedgerError], tuple[int, str]] = {
    InvalidQuantityError: (400, "VALIDATION_ERROR"),
    InvalidTierError: (400, "VALIDATION_ERROR"),
    InvalidOrderError: (400, "VALIDATION_ERROR"),
    InvalidShowError: (400, "VALIDATION_ERROR"),
    ShowNotFoundError: (404, "EVENT_NOT_FOUND"),
    ShowAlreadyExistsError: (409, "EVENT_ALREADY_EXISTS"),
    SalesNotOpenError: (409, "SALES_NOT_OPEN"),
    # The ledger answers "not found" before the booking's own check is reached; that
    # check's answer is the same.
    NotBookingOwnerError: (404, "BOOKING_NOT_FOUND"),
    TierNotFoundError: (404, "TICKET_NOT_FOUND"),
    BookingNotFoundError: (404, "BOOKING_NOT_FOUND"),
    VersionNotFoundError: (404, "VERSION_NOT_FOUND"),
    BookingAlreadyCancelledError: (409, "BOOKING_ALREADY_CANCELLED"),
    BookingNotConfirmedError: (409, "BOOKING_NOT_CONFIRMED"),
    HoldNotActiveError: (409, "HOLD_NOT_ACTIVE"),
    HoldExpiredError: (409, "HOLD_EXPIRED"),
    TierAlreadyExistsError: (409, "TIER_ALREADY_EXISTS"),
    InsufficientTicketsError: (422, "INSUFFICIENT_TICKETS"),
    UserLimitExceededError: (422, "USER_LIMIT_EXCEEDED"),
    SalesClosedError: (409, "SALES_CLOSED"),
    PriceChangeRefusedError: (409, "PRICE_CHANGE_REFUSED"),
    IdempotencyKeyReusedError: (422, "IDEMPOTENCY_KEY_REUSED"),
    LedgerBusyError: (503, "LEDGER_BUSY"),
    OutcomeUnknownError: (503, "OUTCOME_UNKNOWN"),
    StoreTimeoutError: (503, "STORE_UNAVAILABLE"),
    WebhookNotFoundError: (404, "WEBHOOK_NOT_FOUND"),
    # The door (web/api/door/checkin.py).
    BookingCheckedInError: (409, "BOOKING_CHECKED_IN"),
    InvalidTicketCodeError: (422, "INVALID_TICKET_CODE"),
    TicketAlreadyCheckedInError: (409, "ALREADY_CHECKED_IN"),
    TicketNotValidError: (409, "TICKET_NOT_VALID"),
    InvalidWebhookError: (400, "VALIDATION_ERROR"),
    # The waiting room (web/api/waiting_room/queue.py).
    InvalidWaitingRoomError: (400, "VALIDATION_ERROR"),
    QueuePassRequiredError: (403, "QUEUE_PASS_REQUIRED"),
    QueuePassExpiredError: (403, "QUEUE_PASS_EXPIRED"),
    PlaceNotFoundError: (404, "QUEUE_TICKET_NOT_FOUND"),
    WaitingRoomNotFoundError: (404, "WAITING_ROOM_NOT_FOUND"),
    WaitingRoomOffError: (409, "WAITING_ROOM_OFF"),
    WaitingRoomClosedError: (409, "WAITING_ROOM_OFF"),
    WaitingRoomAlreadyOnError: (409, "WAITING_ROOM_ALREADY_ON"),
    # The waiting list (web/api/sale/waiting_list.py).
    TierNotSoldOutError: (409, "TIER_NOT_SOLD_OUT"),
    AlreadyWaitingError: (409, "ALREADY_WAITING"),
    NotWaitingError: (404, "NOT_ON_WAITING_LIST"),
    # Payments (docs/payments.md).
    PaymentRequiredError: (402, "PAYMENT_REQUIRED"),
    RefundRequiredError: (409, "REFUND_REQUIRED"),
    InvalidPaymentError: (422, "INVALID_PAYMENT"),
    PaymentNotFoundError: (404, "PAYMENT_NOT_FOUND"),
    PaymentRefusedError: (409, "PAYMENT_REFUSED"),
    # Staff accounts, organizers, keys and devices (web/api/admin/staff.py, organizers.py).
    SignInRefusedError: (401, "UNAUTHORIZED"),
    WeakPasswordError: (400, "VALIDATION_ERROR"),
    InvalidStaffError: (400, "VALIDATION_ERROR"),
    ResetRefusedError: (422, "RESET_REFUSED"),
    OrganizerNotFoundError: (404, "ORGANIZER_NOT_FOUND"),
    OrganizerAlreadyExistsError: (409, "ORGANIZER_ALREADY_EXISTS"),
    MemberNotFoundError: (404, "MEMBER_NOT_FOUND"),
    CredentialNotFoundError: (404, "KEY_NOT_FOUND"),
    DeviceRevokedError: (403, "DEVICE_REVOKED"),
    StripeEventRefusedError: (400, "INVALID_SIGNATURE"),
}


def http_code(status: int) -> str:
    """The code of an HTTP-level error, from its status (404: ``NOT_FOUND``)."""
    return error_code(HTTP_STATUS_CODES.get(status, "error"))


# Every code the API answers with, and its status: what the OpenAPI description lists.
ERROR_STATUS: dict[str, int] = {
    **{code: status for status, code in STATUS_AND_CODE.values()},
    **{http_code(status): status for status in (401, 403, 404, 405, 408, 413, 415, 429, 503)},
    "INVALID_JSON": 400,
    "STORE_UNAVAILABLE": 503,
    "PROJECTION_LAGGING": 503,
    "QUEUE_UNAVAILABLE": 503,
}


def error_response(
    status: int, code: str, message: str, details: list[dict[str, str]] | None = None
) -> tuple[Response, int]:
    """The one error body; a 503 always says when to retry (``Retry-After: 1``)."""
    response = jsonify({"error": {"code": code, "message": message, "details": details or []}})
    if status == 503:
        response.headers["Retry-After"] = "1"
    return response, status


def register_error_handlers(app: Flask) -> None:
    """Install the handlers (after flask-smorest's, which they replace)."""
    app.before_request(require_json_body)
    app.register_error_handler(LedgerError, ledger_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(ValidationError, invalid_header)
    app.register_error_handler(OperationalError, store_unavailable)
    app.register_error_handler(InterfaceError, store_unavailable)
    app.register_error_handler(RedisError, queue_unavailable)
    app.register_error_handler(Exception, unexpected_error)


def require_json_body() -> None:
    """Commands take JSON only: a body of any other type is refused before it is parsed."""
    has_body = request.content_length or "Transfer-Encoding" in request.headers
    if request.method == "POST" and has_body and not request.is_json:
        raise UnsupportedMediaType("Send the request body as application/json.")


def status_and_code(error: type[LedgerError]) -> tuple[int, str] | None:
    """What an error of this class is answered with: the table's entry for it or its nearest base."""
    return next((STATUS_AND_CODE[cls] for cls in error.__mro__ if cls in STATUS_AND_CODE), None)


def codes_of(errors: Iterable[type[LedgerError]]) -> tuple[str, ...]:
    """The codes these errors are answered with, each once: what the document lists for an
    endpoint that can raise them (a class the table forgot fails here, at import)."""
    codes = []
    for error in errors:
        mapped = status_and_code(error)
        if mapped is None:
            raise LookupError(f"{error.__name__} has no status and code in STATUS_AND_CODE")
        codes.append(mapped[1])
    return tuple(dict.fromkeys(codes))


def ledger_error(error: LedgerError) -> tuple[Response, int]:
    mapped = status_and_code(type(error))
    if mapped is None:  # a rule error this table forgot: our bug, so a 500 (and a test fails)
        return unexpected_error(error)
    status, code = mapped
    return error_response(status, code, str(error), list(error_details(error)))


def error_details(error: LedgerError) -> Iterator[dict[str, str]]:
    if isinstance(error, InsufficientTicketsError):
        yield {"path": "quantity", "message": f"{error.available} available"}
    if isinstance(error, TicketAlreadyCheckedInError):
        yield {"path": "checkedInAt", "message": error.first.scanned_at.isoformat()}
        yield {"path": "gate", "message": error.first.gate}


def invalid_header(error: ValidationError) -> tuple[Response, int]:
    details = [{"path": path, "message": message} for path, message in flatten(error.normalized_messages())]
    return error_response(400, "VALIDATION_ERROR", "The request is not valid.", details)


def http_error(error: HTTPException) -> tuple[Response, int]:
    data = getattr(error, "data", {})
    if "messages" in data:  # webargs: the body did not match the schema
        messages = data["messages"]
        if messages == {"json": ["Invalid JSON body."]}:
            return error_response(400, "INVALID_JSON", "The request body is not valid JSON.")
        located = next(iter(messages.values())) if len(messages) == 1 else messages  # drop "json"/"query"
        details = [{"path": path, "message": message} for path, message in flatten(located)]
        return error_response(400, "VALIDATION_ERROR", "The request is not valid.", details)
    status = error.code or 500
    response = error_response(status, http_code(status), error.description or error.name)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response[0].headers[name] = value
    return response


def flatten(messages: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Marshmallow's nested ``{"field": ["message"]}`` as ``(path, message)`` pairs."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            inner = str(key) if key != "_schema" else ""
            yield from flatten(value, f"{path}.{inner}".strip(".") if inner else path)
    elif isinstance(messages, list):
        for message in messages:
            yield from flatten(message, path)
    else:
        yield path, str(messages)


def store_unavailable(error: Exception) -> tuple[Response, int]:
    log.warning("event store unavailable: %s", error)
    return error_response(503, "STORE_UNAVAILABLE", "The event store is not answering; retry later.")


def queue_unavailable(error: RedisError) -> tuple[Response, int]:
    log.warning("queue store unavailable: %s", error)
    return error_response(503, "QUEUE_UNAVAILABLE", "The waiting room's queue is not answering; retry later.")


def unexpected_error(error: Exception) -> tuple[Response, int]:
    log.exception("unexpected error", exc_info=error)
    return error_response(500, "INTERNAL_ERROR", "Something went wrong on our side.")
