"""Tickets: each seat of a confirmed booking is a ticket, admitted at the door once.

A ticket is not an aggregate of its own: it is seat ``n`` of a booking, and its scans are
events on that booking's history (``Booking.TicketCheckedIn``, ``Booking.ScanConflict``).
So the booking's version check decides between a check-in and a cancellation that race
(a ticket let in is never refunded, a cancelled one never let in), and between two gates
that scan one ticket at once (one admits, the other is told when and where).

A ticket's id is derived from its booking and seat, so it needs no event to exist; the
code on the ticket names the booking and seat, and the application signs it
(``application/checkin``) so that a scanner can tell a forgery with the public key alone.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

NAMESPACE = uuid5(NAMESPACE_URL, "ticketledger:tickets")
SEAT = struct.Struct(">I")  # a seat number in a code: 4 bytes, big-endian
PAYLOAD_SIZE = 16 + SEAT.size  # the booking's id, then the seat


def ticket_id(booking_id: UUID, seat: int) -> UUID:
    """The ticket for seat ``seat`` (0, 1, ...) of a booking: always the same id."""
    return uuid5(NAMESPACE, f"{booking_id}:{seat}")


@dataclass(frozen=True)
class TicketRef:
    """What a ticket's code names: a seat of a booking."""

    booking_id: UUID
    seat: int

    @property
    def ticket_id(self) -> UUID:
        return ticket_id(self.booking_id, self.seat)

    def payload(self) -> bytes:
        """The bytes a code signs."""
        return self.booking_id.bytes + SEAT.pack(self.seat)

    @classmethod
    def from_payload(cls, payload: bytes) -> TicketRef:
        if len(payload) != PAYLOAD_SIZE:
            raise ValueError(f"a ticket's payload is {PAYLOAD_SIZE} bytes, not {len(payload)}")
        return cls(UUID(bytes=payload[:16]), SEAT.unpack(payload[16:])[0])


@dataclass(frozen=True)
class Scan:
    """One scan of a ticket at a gate. ``scan_id`` is the scanner's own id for it, so an
    upload sent twice records each scan once. ``actor`` is the door device that made it
    (``device:<id>``), None for a scanner with the shared token."""

    gate: str
    scanned_at: datetime
    scan_id: str
    actor: str | None = None

    @property
    def identity(self) -> tuple[str, str]:
        """What makes two scans of one ticket the same scan, sent again: its gate and its
        ``scan_id``. A handheld numbers its own scans (0001, 0002, ...), so an id alone
        is unique only at its gate; two gates' 0001 are two scans."""
        return (self.gate, self.scan_id)
