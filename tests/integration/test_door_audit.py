"""The audit at the door, against a real store: a sound door verifies; a history that
admits a ticket twice, admits a cancelled booking's ticket or a seat never sold (forged past
the domain's rules, straight into the store), or a tampered checkins table, is named."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from application import BookingLedger
from application.audit.tier_audit import TierAudit
from application.checkin.codes import TicketCodes
from application.checkin.door import Door, OfflineScan
from domain.tickets import TicketRef
from projections import Projector, open_view

AT = datetime(2026, 12, 5, 19, tzinfo=UTC)


@pytest.fixture
def door(ledger: BookingLedger):
    ledger.create_tier("VIP", Decimal("100.00"), 10)
    door = Door(ledger, TicketCodes(ledger.secret))
    ann = ledger.book("ann", "VIP", 2).booking_id
    bob = ledger.book("bob", "VIP", 1).booking_id
    door.check_in(door.codes.sign(TicketRef(ann, 0)), "north")
    door.merge("east", [OfflineScan("e-1", door.codes.sign(TicketRef(ann, 0)), AT)])
    return door, ann, bob


def audit(ledger: BookingLedger) -> list[str]:
    view = open_view(ledger)
    Projector(ledger, view).catch_up()
    return [problem.message for problem in TierAudit(ledger).verify("VIP", view)[1]]


def forge(ledger: BookingLedger, booking_id, seat: int) -> None:
    """An admission recorded past the domain's rules (its private event method), as a bug or
    someone with write access to the store could."""
    booking = ledger.find_booking(booking_id)
    booking._admit(seat, booking.tier, booking.user_id, "forged", AT, f"forged-{seat}")
    ledger.save(booking)


def test_a_sound_door_verifies(door):
    assert audit(door[0].ledger) == []


def test_a_ticket_admitted_twice_is_named(door):
    ledger, ann = door[0].ledger, door[1]
    forge(ledger, ann, 0)
    assert audit(ledger) == [f"booking {ann} seat 0: admitted twice"]


def test_a_seat_never_sold_is_named(door):
    ledger, bob = door[0].ledger, door[2]
    forge(ledger, bob, 1)
    problems = audit(ledger)
    assert problems[0] == f"booking {bob} seat 1: scanned, but the tier sold it no such ticket"


def test_a_cancelled_bookings_admission_is_named(door):
    ledger, bob = door[0].ledger, door[2]
    ledger.cancel(bob, "bob")
    forge(ledger, bob, 0)
    assert audit(ledger)[0] == f"booking {bob} seat 0: scanned, and its booking was cancelled"


def test_a_tampered_checkins_table_is_named(door):
    ledger = door[0].ledger
    view = open_view(ledger)
    Projector(ledger, view).catch_up()
    with view.datastore.transaction(commit=True) as cursor:
        cursor.execute(view.sql("DELETE FROM {checkins} WHERE admitted = 0"))
    assert [p.message for p in TierAudit(ledger).verify("VIP", view)[1]] == [
        "checkins rows for VIP count 1 admitted, 0 conflicts; the events say 1, 1"
    ]
