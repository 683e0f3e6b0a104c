"""A ticket is a seat of a confirmed booking, admitted once; its code is signed (Ed25519)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from application.checkin.codes import CODE, PREFIX, TicketCodes, encode, read_code
from application.errors import InvalidTicketCodeError
from domain.bookings import Booking
from domain.errors import BookingCheckedInError, TicketAlreadyCheckedInError, TicketNotValidError
from domain.tickets import Scan, TicketRef, ticket_id
from tests.code_variants import variants

AT = datetime(2026, 12, 5, 19, 0, tzinfo=UTC)
CODES = TicketCodes(b"x" * 32)


def booking(quantity: int = 2) -> Booking:
    made = Booking.confirm(uuid4(), "alice", "VIP", quantity)
    made.collect_events()
    return made


def scan(gate: str, minutes: int = 0, scan_id: str | None = None) -> Scan:
    return Scan(gate, AT + timedelta(minutes=minutes), scan_id or f"{gate}-{minutes}")


def test_a_ticket_is_admitted_once_and_a_second_scan_is_told_the_first():
    made = booking()
    made.check_in(0, scan("north"))
    with pytest.raises(TicketAlreadyCheckedInError) as refused:
        made.check_in(0, scan("south", 1))
    assert refused.value.first == scan("north")
    assert "north" in str(refused.value) and AT.isoformat() in str(refused.value)
    made.check_in(1, scan("south", 2))  # the other seat is its own ticket
    assert [type(e).__name__ for e in made.collect_events()] == ["TicketCheckedIn", "TicketCheckedIn"]


def test_a_scan_is_its_gate_and_scan_id_whenever_it_is_sent():
    assert scan("north", 0, "0001").identity == scan("north", 5, "0001").identity
    assert scan("north", 0, "0001").identity != scan("south", 0, "0001").identity


def test_another_gate_s_scan_with_the_same_scan_id_is_a_second_scan_and_refused():
    made = booking()
    made.check_in(0, scan("north-1", scan_id="0001"))
    with pytest.raises(TicketAlreadyCheckedInError) as refused:
        made.check_in(0, scan("south-1", 1, scan_id="0001"))
    assert refused.value.first == scan("north-1", scan_id="0001")
    made.check_in(1, scan("north-1", 2, scan_id="0001"))  # another ticket: its own scan
    assert [e.seat for e in made.collect_events()] == [0, 1]


def test_another_gate_s_offline_scan_with_the_same_scan_id_is_kept_as_a_conflict():
    made = booking()
    assert made.merge_offline_scan(0, scan("west", scan_id="0002")) is None
    assert made.merge_offline_scan(0, scan("south", 4, scan_id="0002")) == scan("west", scan_id="0002")
    assert made.merge_offline_scan(0, scan("south", 4, scan_id="0002")) == scan("west", scan_id="0002")
    events = made.collect_events()
    assert [(type(e).__name__, e.gate, e.scan_id) for e in events] == [
        ("TicketCheckedIn", "west", "0002"),
        ("ScanConflict", "south", "0002"),
    ]


def test_the_same_scan_sent_again_records_nothing_and_is_not_refused():
    made = booking()
    made.check_in(0, scan("north", scan_id="retry-me"))
    made.collect_events()
    made.check_in(0, scan("north", 5, scan_id="retry-me"))
    assert made.collect_events() == []


@pytest.mark.parametrize("status_change", ["cancel", "hold"])
def test_a_ticket_of_a_booking_that_is_not_confirmed_does_not_admit(status_change):
    if status_change == "cancel":
        made = booking()
        made.cancel("alice")
    else:
        made = Booking.hold(uuid4(), "alice", "VIP", 1, AT)
    with pytest.raises(TicketNotValidError):
        made.check_in(0, scan("north"))
    with pytest.raises(TicketNotValidError):
        made.merge_offline_scan(0, scan("north"))


@pytest.mark.parametrize("seat", [-1, 2, 2**31])
def test_a_seat_the_booking_does_not_have_is_refused(seat):
    with pytest.raises(TicketNotValidError):
        booking(2).check_in(seat, scan("north"))


def test_a_booking_with_a_ticket_admitted_is_not_cancelled():
    made = booking()
    made.check_in(1, scan("north"))
    with pytest.raises(BookingCheckedInError):
        made.cancel("alice")


def test_an_offline_scan_of_an_admitted_ticket_is_kept_as_a_conflict_naming_the_first():
    made = booking()
    made.check_in(0, scan("north"))
    assert made.merge_offline_scan(0, scan("south", 3)) == scan("north")
    assert made.merge_offline_scan(0, scan("south", 3)) == scan("north")  # uploaded twice: kept once
    assert made.merge_offline_scan(0, scan("north")) is None  # the admission itself, sent again
    events = made.collect_events()
    assert [type(e).__name__ for e in events] == ["TicketCheckedIn", "ScanConflict"]
    assert made.scans[0] == (scan("north"), scan("south", 3))


def test_an_offline_scan_of_a_ticket_not_yet_in_admits_it():
    made = booking()
    assert made.merge_offline_scan(0, scan("south", 1)) is None
    with pytest.raises(TicketAlreadyCheckedInError):
        made.check_in(0, scan("north", 2))


def test_the_scans_replay_from_the_events():
    made = Booking.confirm(uuid4(), "alice", "VIP", 2)
    made.check_in(0, scan("north"))
    made.merge_offline_scan(0, scan("south", 3))
    made.check_in(1, scan("south", 4))
    replayed = None
    for event in made.collect_events():
        replayed = event.mutate(replayed)
    assert replayed is not None and replayed.scans == made.scans and len(replayed.scans[0]) == 2


def test_a_device_s_scans_name_it_and_a_scan_stored_before_devices_names_nobody():
    made = booking()
    made.check_in(0, Scan("north", AT, "1", actor="device:phone-1"))
    made.merge_offline_scan(0, Scan("south", AT, "2", actor="device:phone-2"))
    made.check_in(1, scan("north"))
    admitted, conflict, shared = made.collect_events()
    assert (admitted.actor, conflict.actor, shared.actor) == ("device:phone-1", "device:phone-2", None)
    stored_before = {name: value for name, value in shared.__dict__.items() if name != "actor"}
    assert type(shared)(**stored_before).actor is None
    assert [s.actor for s in made.scans[0]] == ["device:phone-1", "device:phone-2"]


def test_a_signed_code_names_its_ticket_and_checks_with_the_public_key_alone():
    ref = TicketRef(uuid4(), 3)
    code = CODES.sign(ref)
    assert code.startswith(PREFIX) and len(code) == 116
    assert CODES.verify(code) == ref
    assert ref.ticket_id == ticket_id(ref.booking_id, 3)
    data = read_code(code)
    CODES.public_key.verify(data[20:], data[:20])  # a scanner's check: raises if it does not hold


def test_a_code_signed_by_another_key_is_refused():
    other = TicketCodes(b"y" * 32)
    with pytest.raises(InvalidTicketCodeError):
        CODES.verify(other.sign(TicketRef(uuid4(), 0)))


def test_a_code_with_its_seat_changed_is_refused():
    code = CODES.sign(TicketRef(uuid4(), 0))
    data = bytearray(read_code(code))
    data[19] ^= 1  # seat 0 -> seat 1, signature kept
    with pytest.raises(InvalidTicketCodeError):
        CODES.verify(PREFIX + encode(bytes(data)))


@given(st.text(max_size=200) | st.binary(max_size=120).map(lambda b: PREFIX + encode(b)))
def test_anything_else_is_refused_as_an_invalid_code_and_nothing_else(text):
    with pytest.raises(InvalidTicketCodeError):
        CODES.verify(text)


@given(ref=st.builds(TicketRef, st.uuids(), st.integers(0, 2**32 - 1)), data=st.data())
def test_a_real_code_altered_respelled_or_repadded_is_refused(ref, data):
    code = CODES.sign(ref)
    altered = data.draw(variants(code))
    assume(altered != code)
    with pytest.raises(InvalidTicketCodeError):
        CODES.verify(altered)


@given(st.from_regex(CODE, fullmatch=True))
def test_a_code_s_text_is_the_only_spelling_of_its_bytes(text):
    assert PREFIX + encode(read_code(text)) == text
