"""``Door``: check-in at the gates, online (one scan, answered at once) and offline
(a gate's scans uploaded later, merged in the order they were made).

Each scan is a version-checked command on the ticket's booking (``domain.bookings``): of
two gates that scan one ticket at once, the second's recording is refused, and deciding
again it finds the ticket admitted (409, with the first scan's time and gate). An
offline gate has already let its holders in, so its scans are never refused for being
second: each is recorded, the first as the admission and any later one as a conflict,
and the upload's answer lists the conflicts with the admission they collide with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from application.booking.ledger import BookingLedger
from application.checkin.codes import TicketCodes
from application.errors import InvalidTicketCodeError, no_booking
from domain.bookings import Booking
from domain.errors import TicketNotValidError
from domain.tickets import Scan, TicketRef

ADMITTED = "admitted"
CONFLICT = "conflict"
REFUSED = "refused"


@dataclass(frozen=True)
class Admission:
    """A ticket let in: which, whose, and the scan that admitted it."""

    ticket_id: str
    booking_id: str
    seat: int
    tier: str
    user_id: str
    gate: str
    checked_in_at: datetime


@dataclass(frozen=True)
class OfflineScan:
    """A scan as a gate's scanner kept it while offline."""

    scan_id: str
    code: str
    scanned_at: datetime


@dataclass(frozen=True)
class MergedScan:
    """What became of one uploaded scan: admitted, a conflict with an earlier admission
    (``first``), or refused (a forged code, a cancelled booking: ``reason``)."""

    scan_id: str
    outcome: str
    ticket_id: str | None = None
    first: Scan | None = None
    reason: str | None = None


class Door:
    """Admits tickets of the ledger's bookings; its key pair signs and checks their codes."""

    def __init__(self, ledger: BookingLedger, codes: TicketCodes) -> None:
        self.ledger = ledger
        self.codes = codes

    def check_in(self, code: str, gate: str, scan_id: str | None = None) -> Admission:
        """Admit the ticket whose code was scanned at ``gate`` now; a code we did not sign,
        a ticket admitted before or a booking not confirmed is refused, recording nothing.
        The same scan again (this ticket, this gate, this ``scan_id``: a scanner retrying)
        is answered with its admission."""
        ticket = self.codes.verify(code)
        scan = Scan(gate, self.ledger.clock(), scan_id or str(uuid4()))
        booking = self._scanned(ticket, lambda booking: booking.check_in(ticket.seat, scan))
        return admission(booking, ticket, booking.scans[ticket.seat][0])

    def merge(self, gate: str, scans: list[OfflineScan]) -> list[MergedScan]:
        """Record an offline gate's scans in the order they were made; each answer in the
        order sent, about its own scan (scan ids need not differ between tickets). An
        upload sent again records nothing new and answers the same."""
        in_time = sorted(range(len(scans)), key=lambda index: scans[index].scanned_at)
        answers = {index: self._merge_one(gate, scans[index]) for index in in_time}
        return [answers[index] for index in range(len(scans))]

    def _merge_one(self, gate: str, offline: OfflineScan) -> MergedScan:
        try:
            ticket = self.codes.verify(offline.code)
        except InvalidTicketCodeError as error:
            return MergedScan(offline.scan_id, REFUSED, reason=str(error))
        scan = Scan(gate, offline.scanned_at, offline.scan_id)
        try:
            booking = self._scanned(ticket, lambda booking: booking.merge_offline_scan(ticket.seat, scan))
        except TicketNotValidError as error:
            return MergedScan(offline.scan_id, REFUSED, str(ticket.ticket_id), reason=str(error))
        first = booking.scans[ticket.seat][0]
        if first.identity == scan.identity:
            return MergedScan(offline.scan_id, ADMITTED, str(ticket.ticket_id))
        return MergedScan(offline.scan_id, CONFLICT, str(ticket.ticket_id), first)

    def _scanned(self, ticket: TicketRef, scan: Callable[[Booking], object]) -> Booking:
        """Apply a scan to the ticket's booking and record what it changed, deciding again
        on a conflict. A signed code always names a booking we made, so none is a 404
        only if the store lost it: said as such, not as a forgery."""

        def attempt() -> Booking:
            booking = self.ledger.find_booking(ticket.booking_id)
            if booking is None:
                raise no_booking(ticket.booking_id)
            scan(booking)
            if booking.pending_events:
                self.ledger.save(booking)
            return booking

        with self.ledger.bounded():  # answered within the write timeout, or 503
            return self.ledger.retries(attempt)  # the ledger's: its bounds, its conflict count


def admission(booking: Booking, ticket: TicketRef, scan: Scan) -> Admission:
    return Admission(
        str(ticket.ticket_id), str(booking.id), ticket.seat, booking.tier, booking.user_id, scan.gate, scan.scanned_at
    )
