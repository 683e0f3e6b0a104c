"""``Door``: check-in at the gates, online (one scan, answered at once) and offline
(a gate's scans uploaded later, merged in the order they were made).

Each scan is a version-checked command on the ticket's booking (``domain.bookings``): of
two gates that scan one ticket at once, the second's recording is refused, and deciding
again it finds the ticket admitted (409, with the first scan's time and gate). An
offline gate has already let its holders in, so its scans are never refused for being
second: each is recorded, the first as the admission and any later one as a conflict,
and the upload's answer lists the conflicts with the admission they collide with.

A door device (``Scanner``) admits only its own event's tickets, and each of its scans
names it; a ticket of another event is answered as a code we did not sign, so the device
learns nothing of events that are not its own. The shared scanner token admits every
event's tickets, as before devices.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from application.booking.ledger import BookingLedger
from application.checkin.codes import NOT_A_TICKET, TicketCodes
from application.errors import InvalidTicketCodeError, no_booking
from domain.bookings import Booking
from domain.errors import TicketNotValidError
from domain.shows import DEFAULT_SHOW, Show, show_id
from domain.tickets import Scan, TicketRef

ADMITTED = "admitted"
CONFLICT = "conflict"
REFUSED = "refused"


@dataclass(frozen=True)
class Scanner:
    """Who scans: a door device (``actor`` ``device:<id>``, admitting only ``event_code``'s
    tickets) or, with neither, the shared scanner token (every event's, naming nobody)."""

    actor: str | None = None
    event_code: str | None = None


SHARED = Scanner()


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

    def __init__(
        self, ledger: BookingLedger, codes: TicketCodes, main_tiers: Callable[[], Container[str]] = frozenset
    ) -> None:
        self.ledger = ledger
        self.codes = codes
        self.main_tiers = main_tiers  # the default event's tiers (the read tables'): see tiers_of

    def tiers_of(self, event_code: str) -> Container[str]:
        """An event's tiers: a show's as its store has them, so a device's scope is as
        strong as the scan itself. The default event's are every tier of no other event,
        which only the read tables know: a tier they do not have yet is refused (closed,
        not open, while they catch up: an event's tickets are scanned long after)."""
        if event_code == DEFAULT_SHOW:
            return self.main_tiers()
        show = self.ledger.aggregate(show_id(event_code), Show)
        return show.tiers if show is not None else ()

    def check_in(self, code: str, gate: str, scan_id: str | None = None, scanner: Scanner = SHARED) -> Admission:
        """Admit the ticket whose code was scanned at ``gate`` now; a code we did not sign,
        a ticket admitted before or a booking not confirmed is refused, recording nothing.
        The same scan again (this ticket, this gate, this ``scan_id``: a scanner retrying)
        is answered with its admission."""
        ticket = self.codes.verify(code)
        scan = Scan(gate, self.ledger.clock(), scan_id or str(uuid4()), scanner.actor)
        booking = self._scanned(ticket, scanner, lambda booking: booking.check_in(ticket.seat, scan))
        return admission(booking, ticket, booking.scans[ticket.seat][0])

    def merge(self, gate: str, scans: list[OfflineScan], scanner: Scanner = SHARED) -> list[MergedScan]:
        """Record an offline gate's scans in the order they were made; each answer in the
        order sent, about its own scan (scan ids need not differ between tickets). An
        upload sent again records nothing new and answers the same."""
        in_time = sorted(range(len(scans)), key=lambda index: scans[index].scanned_at)
        answers = {index: self._merge_one(gate, scans[index], scanner) for index in in_time}
        return [answers[index] for index in range(len(scans))]

    def _merge_one(self, gate: str, offline: OfflineScan, scanner: Scanner) -> MergedScan:
        try:
            ticket = self.codes.verify(offline.code)
            scan = Scan(gate, offline.scanned_at, offline.scan_id, scanner.actor)
            booking = self._scanned(ticket, scanner, lambda booking: booking.merge_offline_scan(ticket.seat, scan))
        except InvalidTicketCodeError as error:
            return MergedScan(offline.scan_id, REFUSED, reason=str(error))
        except TicketNotValidError as error:
            return MergedScan(offline.scan_id, REFUSED, str(ticket.ticket_id), reason=str(error))
        first = booking.scans[ticket.seat][0]
        if first.identity == scan.identity:
            return MergedScan(offline.scan_id, ADMITTED, str(ticket.ticket_id))
        return MergedScan(offline.scan_id, CONFLICT, str(ticket.ticket_id), first)

    def _scanned(self, ticket: TicketRef, scanner: Scanner, scan: Callable[[Booking], object]) -> Booking:
        """Apply a scan to the ticket's booking and record what it changed, deciding again
        on a conflict. A signed code always names a booking we made, so none is a 404
        only if the store lost it: said as such, not as a forgery."""

        def attempt() -> Booking:
            booking = self.ledger.find_booking(ticket.booking_id)
            if booking is None:
                raise no_booking(ticket.booking_id)
            if scanner.event_code is not None and booking.tier not in self.tiers_of(scanner.event_code):
                raise InvalidTicketCodeError(NOT_A_TICKET)  # another event's: not said
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
