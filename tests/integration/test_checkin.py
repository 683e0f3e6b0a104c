"""Check-in against a real store, racing: gates that scan one ticket at once admit it once,
a cancellation and a check-in that race never both win, and offline uploads merged from
several gates at once keep every scan. What the store recorded is checked, not the answers alone."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.utils import get_topic
from hypothesis import assume, given, settings

from application import BookingLedger
from application.checkin.codes import TicketCodes
from application.checkin.door import ADMITTED, CONFLICT, REFUSED, Door, OfflineScan, Scanner
from application.errors import InvalidTicketCodeError
from domain.bookings import Booking
from domain.errors import BookingCheckedInError, TicketAlreadyCheckedInError, TicketNotValidError
from domain.tickets import TicketRef
from projections import Projector, open_view
from projections.read_model.rebuild import differences, rebuild
from tests.code_variants import variants

GATES = ("north", "south", "east", "west")


@pytest.fixture
def door(ledger: BookingLedger) -> Door:
    ledger.create_tier("GA", Decimal("10.00"), 1000)
    return Door(ledger, TicketCodes(ledger.secret))


def codes_of(door: Door, user: str, quantity: int) -> list[str]:
    receipt = door.ledger.book(user, "GA", quantity)
    return [door.codes.sign(TicketRef(receipt.booking_id, seat)) for seat in range(quantity)]


def recorded(ledger: BookingLedger, kind: type) -> list[Any]:
    """Every event of ``kind`` the store holds, read back from it."""
    topic = get_topic(kind)
    notifications = ledger.recorder.select_notifications(1, 100_000, topics=[topic])
    return [ledger.mapper.to_domain_event(n) for n in notifications]


def together(jobs: list[Any]) -> list[Any]:
    """Run the jobs in threads released at the same moment; each one's result or error."""
    start = threading.Barrier(len(jobs))

    def run(job: Any) -> Any:
        start.wait()
        try:
            return job()
        except Exception as error:  # the outcome is the error
            return error

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))


@pytest.mark.parametrize("scan_id", [None, "0001"], ids=["the door's ids", "each handheld's own 0001"])
def test_four_gates_scanning_the_same_tickets_at_once_admit_each_once(door, scan_id):
    codes = [code for n in range(6) for code in codes_of(door, f"user-{n}", 2)]
    jobs = [lambda code=code, gate=gate: door.check_in(code, gate, scan_id) for code in codes for gate in GATES]
    outcomes = together(jobs)
    admitted = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(admitted) == len(codes)
    assert all(isinstance(o, TicketAlreadyCheckedInError) for o in outcomes if isinstance(o, Exception))
    events = recorded(door.ledger, Booking.TicketCheckedIn)
    assert Counter((e.originator_id, e.seat) for e in events) == Counter((UUID(a.booking_id), a.seat) for a in admitted)
    refused = [o for o in outcomes if isinstance(o, TicketAlreadyCheckedInError)]
    firsts = {(a.ticket_id, a.gate, a.checked_in_at) for a in admitted}
    assert {f.first.gate for f in refused} <= {a.gate for a in admitted} and len(firsts) == len(codes)


def test_a_cancellation_and_a_check_in_that_race_never_both_win(door):
    for n in range(8):
        user = f"racer-{n}"
        receipt = door.ledger.book(user, "GA", 1)
        code = door.codes.sign(TicketRef(receipt.booking_id, 0))
        cancel, scan = together(
            [
                lambda booking=receipt.booking_id, user=user: door.ledger.cancel(booking, user),
                lambda code=code: door.check_in(code, "north"),
            ]
        )
        cancelled, admitted = not isinstance(cancel, Exception), not isinstance(scan, Exception)
        assert cancelled != admitted, (cancel, scan)
        assert isinstance(cancel if admitted else scan, BookingCheckedInError if admitted else TicketNotValidError)
        assert door.ledger.get_booking(receipt.booking_id).status == ("cancelled" if cancelled else "confirmed")


def test_offline_uploads_merged_at_once_keep_every_scan_and_admit_each_ticket_once(door):
    codes = [code for n in range(5) for code in codes_of(door, f"fan-{n}", 2)]
    at = datetime(2026, 12, 5, 19, 0, tzinfo=UTC)

    def upload(gate: str, offset: int) -> list[Any]:
        """Each gate numbers its scans 0001, 0002, ...: the same ids as the other gates'."""
        scans = [OfflineScan(f"{i:04}", code, at + timedelta(seconds=i + offset)) for i, code in enumerate(codes)]
        return door.merge(gate, scans)

    results = together([lambda gate=gate, n=n: upload(gate, n) for n, gate in enumerate(GATES[:3])])
    tickets = [str(door.codes.verify(code).ticket_id) for code in codes]
    assert all([r.ticket_id for r in result] == tickets for result in results)
    outcomes = Counter(r.outcome for result in results for r in result)
    assert outcomes == {ADMITTED: len(codes), CONFLICT: 2 * len(codes)}
    assert len(recorded(door.ledger, Booking.TicketCheckedIn)) == len(codes)
    assert len(recorded(door.ledger, Booking.ScanConflict)) == 2 * len(codes)
    again = upload(GATES[0], 0)  # the first gate sends its upload again: nothing new
    assert len(recorded(door.ledger, Booking.ScanConflict)) == 2 * len(codes)
    assert [r.outcome for r in again] == [r.outcome for r in results[0]]


def test_no_variant_of_a_real_code_is_admitted_online_or_offline(door):
    (code,) = codes_of(door, "ann", 1)
    at = datetime(2026, 12, 5, 19, 0, tzinfo=UTC)

    @settings(deadline=None)
    @given(variants(code))
    def refused(text: str) -> None:
        assume(text != code)
        with pytest.raises(InvalidTicketCodeError):
            door.check_in(text, "north")
        (answer,) = door.merge("west", [OfflineScan("0001", text, at)])
        assert (answer.outcome, answer.ticket_id) == (REFUSED, None)

    refused()
    assert recorded(door.ledger, Booking.TicketCheckedIn) == []
    assert door.check_in(code, "north").seat == 0  # the real code, as issued


def test_another_gate_s_scan_with_the_same_scan_id_is_refused_online_and_a_conflict_offline(door):
    online, offline = codes_of(door, "ann", 2)
    door.check_in(online, "north-1", "0001")
    with pytest.raises(TicketAlreadyCheckedInError):
        door.check_in(online, "south-1", "0001")
    assert door.check_in(online, "north-1", "0001").gate == "north-1"  # north-1's own retry
    at = datetime(2026, 12, 5, 19, 0, tzinfo=UTC)
    assert [r.outcome for r in door.merge("west", [OfflineScan("0002", offline, at)])] == [ADMITTED]
    (south,) = door.merge("south", [OfflineScan("0002", offline, at + timedelta(minutes=1))])
    assert (south.outcome, south.first and south.first.gate) == (CONFLICT, "west")
    assert [(e.gate, e.scan_id) for e in recorded(door.ledger, Booking.TicketCheckedIn)] == [
        ("north-1", "0001"),
        ("west", "0002"),
    ]
    assert [(e.gate, e.scan_id) for e in recorded(door.ledger, Booking.ScanConflict)] == [("south", "0002")]
    view = open_view(door.ledger)
    Projector(door.ledger, view).catch_up()
    assert [(row.gate, row.scan_id, row.admitted) for row in view.all_scans() if row.scan_id == "0002"] == [
        ("south", "0002", False),
        ("west", "0002", True),
    ]


def test_each_answer_of_an_upload_names_its_own_ticket_in_the_order_sent(door):
    codes = codes_of(door, "ann", 1) + codes_of(door, "bob", 1)
    at = datetime(2026, 12, 5, 19, 0, tzinfo=UTC)
    sent = [OfflineScan("0001", codes[0], at + timedelta(minutes=1)), OfflineScan("0001", codes[1], at)]
    results = door.merge("west", sent)
    assert [(r.ticket_id, r.outcome) for r in results] == [
        (str(door.codes.verify(code).ticket_id), ADMITTED) for code in codes
    ]
    assert len(recorded(door.ledger, Booking.TicketCheckedIn)) == 2


def test_the_door_counts_are_projected_and_a_rebuild_agrees(door):
    codes = codes_of(door, "ann", 3) + codes_of(door, "bob", 2)
    door.check_in(codes[0], "north")
    door.check_in(codes[3], "south")
    door.merge("east", [OfflineScan("e-1", codes[0], datetime(2026, 12, 5, 19, 0, tzinfo=UTC))])
    view = open_view(door.ledger)
    Projector(door.ledger, view).catch_up()
    assert view.door_counts() == [{"event": "main", "tier": "GA", "sold": 5, "admitted": 2, "conflicts": 1}]
    listed = {(booking, seat) for booking, _, seats, admitted in view.valid_tickets() for seat in admitted}
    assert len(listed) == 2
    assert differences(door.ledger) == []


def test_a_device_s_scans_name_it_in_the_read_table_and_a_table_from_before_devices_gets_the_column(door):
    codes = codes_of(door, "ann", 3)
    device = str(uuid4())
    door.check_in(codes[0], "north", scanner=Scanner(actor=f"device:{device}"))
    offline = OfflineScan("e-1", codes[0], datetime(2026, 12, 5, 19, 0, tzinfo=UTC))
    door.merge("east", [offline], Scanner(f"device:{device}"))
    door.check_in(codes[1], "south")  # the shared scanner token: no device
    view = open_view(door.ledger)
    Projector(door.ledger, view).catch_up()
    scans = {(row.gate, row.admitted): row.device_id for row in view.all_scans()}
    assert scans == {("north", True): device, ("east", False): device, ("south", True): None}
    assert [(row.gate, row.device_id) for row in view.device_scans()] == [("north", device), ("east", device)]

    # A store whose checkins table predates devices: opened, the table gets the column (empty),
    # new scans fill it at once, and a rebuild fills the old rows from the events.
    view._run(["ALTER TABLE {checkins} DROP COLUMN device_id"], {})
    upgraded = open_view(door.ledger)
    door.check_in(codes[2], "north", scanner=Scanner(actor=f"device:{device}"))
    Projector(door.ledger, upgraded).catch_up()
    assert Counter(row.device_id for row in upgraded.all_scans()) == {None: 3, device: 1}
    assert len(differences(door.ledger)) == 2  # the two scans of the device from before
    rebuild(door.ledger)
    assert [row.device_id for row in upgraded.all_scans()].count(device) == 3
    assert differences(door.ledger) == []
