"""Hypothesis drives the door through two ledger instances on one store and checks every
answer against a model: each ticket admitted at most once, online or merged from offline
gates (in any order, uploads sent again), a cancelled booking's tickets refused, a booking
with a ticket in never cancelled, forged and altered codes refused; after each step the
store's events and the read tables agree with the model.

The gates number their scans from a few shared ids, as handhelds do (0001, 0002, ...), so
ids collide across gates and tickets: in the model a scan is its gate and scan id, and only
the same ticket's scan from the same gate with the same id is a repeat."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from eventsourcing.utils import get_topic
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from application import BookingLedger
from application.checkin.codes import TicketCodes
from application.checkin.door import ADMITTED, CONFLICT, REFUSED, Door, OfflineScan
from application.errors import InvalidTicketCodeError
from domain.bookings import Booking
from domain.errors import BookingCheckedInError, TicketAlreadyCheckedInError, TicketNotValidError
from domain.tickets import TicketRef, ticket_id
from projections import Projector, open_view
from tests.code_variants import variants
from tests.conftest import machine_settings, postgres_schema_for

GATES = st.sampled_from(["north", "south", "east"])
SCAN_IDS = st.sampled_from(["0001", "0002", "0003"])
PICKS = st.lists(st.tuples(st.integers(0, 99), st.integers(0, 2), SCAN_IDS), min_size=1, max_size=5)
VIA = st.sampled_from([0, 1])
START = datetime(2026, 12, 5, 19, 0, tzinfo=UTC)


@dataclass
class ModelBooking:
    user: str
    quantity: int
    cancelled: bool = False
    # seat -> the (gate, scan id) of each scan kept, the admission first; None: the door's own id
    scans: dict[int, list[tuple[str, str | None]]] = field(default_factory=dict)


class DoorMachine(RuleBasedStateMachine):
    bookings = Bundle("bookings")
    uploads = Bundle("uploads")

    def __init__(self) -> None:
        super().__init__()
        self.resources = ExitStack()
        env = self.open_store()
        self.ledgers = [self.resources.enter_context(BookingLedger(env=env)) for _ in range(2)]
        self.ledgers[0].create_tier("GA", Decimal("10.00"), 1000)
        self.doors = [Door(ledger, TicketCodes(ledger.secret)) for ledger in self.ledgers]
        self.model: dict = {}
        self.scan_count = 0
        self.follower = Projector(self.ledgers[1], open_view(self.ledgers[1]))

    def open_store(self) -> dict[str, str]:
        directory = self.resources.enter_context(tempfile.TemporaryDirectory())
        return {"SQLITE_DBNAME": f"{directory}/ledger.sqlite3"}

    def code(self, booking_id, seat: int) -> str:
        return self.doors[0].codes.sign(TicketRef(booking_id, seat))

    @rule(target=bookings, via=VIA, quantity=st.integers(1, 3))
    def book(self, via, quantity):
        user = f"user-{len(self.model)}"
        receipt = self.ledgers[via].book(user, "GA", quantity)
        self.model[receipt.booking_id] = ModelBooking(user, quantity)
        return receipt.booking_id

    @rule(booking_id=bookings, via=VIA)
    def cancel(self, booking_id, via):
        booking = self.model[booking_id]
        if booking.cancelled:
            return
        if booking.scans:
            with pytest.raises(BookingCheckedInError):
                self.ledgers[via].cancel(booking_id, booking.user)
            return
        self.ledgers[via].cancel(booking_id, booking.user)
        booking.cancelled = True

    @rule(booking_id=bookings, seat=st.integers(0, 2), gate=GATES, scan_id=st.none() | SCAN_IDS, via=VIA)
    def scan_online(self, booking_id, seat, gate, scan_id, via):
        booking = self.model[booking_id]
        seat = seat % booking.quantity
        door = self.doors[via]
        kept = booking.scans.get(seat)
        if booking.cancelled:
            with pytest.raises(TicketNotValidError):
                door.check_in(self.code(booking_id, seat), gate, scan_id)
        elif kept and (scan_id is None or kept[0] != (gate, scan_id)):
            with pytest.raises(TicketAlreadyCheckedInError) as refused:
                door.check_in(self.code(booking_id, seat), gate, scan_id)
            assert_is(refused.value.first, kept[0])
        else:  # not yet in, or this very scan sent again: its admission
            admission = door.check_in(self.code(booking_id, seat), gate, scan_id)
            assert (admission.gate, admission.seat, admission.user_id) == (gate, seat, booking.user)
            booking.scans[seat] = kept or [(gate, scan_id)]

    @rule(target=uploads, picks=PICKS)
    def offline_scans(self, picks):
        """A gate's scans while offline: tickets of bookings made so far, each with an id
        from the few every gate uses and a time of its own."""
        if not self.model:
            return []
        ids = list(self.model)
        scans = []
        for pick, seat, scan_id in picks:
            booking_id = ids[pick % len(ids)]
            self.scan_count += 1
            at = START + timedelta(seconds=self.scan_count)
            seat = seat % self.model[booking_id].quantity
            scans.append((booking_id, seat, OfflineScan(scan_id, self.code(booking_id, seat), at)))
        return scans

    @rule(scans=uploads, gate=GATES, via=VIA, forged=st.booleans())
    def upload(self, scans, gate, via, forged):
        sent = [scan for _, _, scan in scans]
        if forged:
            sent.append(OfflineScan("0001", "TL1." + "A" * 112, START))
        results = self.doors[via].merge(gate, sent)
        assert [r.scan_id for r in results] == [s.scan_id for s in sent]
        for (booking_id, seat, scan), result in zip(scans, results, strict=False):
            assert result.ticket_id == str(ticket_id(booking_id, seat))
            booking = self.model[booking_id]
            kept = booking.scans.get(seat, [])
            if booking.cancelled:
                assert result.outcome == REFUSED
            elif not kept or kept[0] == (gate, scan.scan_id):
                assert result.outcome == ADMITTED
                booking.scans[seat] = kept or [(gate, scan.scan_id)]
            else:
                assert result.outcome == CONFLICT and result.first is not None
                assert_is(result.first, kept[0])
                if (gate, scan.scan_id) not in kept:
                    kept.append((gate, scan.scan_id))
        if forged:
            assert results[-1].outcome == REFUSED

    @rule(via=VIA)
    def forged_code(self, via):
        with pytest.raises(InvalidTicketCodeError):
            self.doors[via].check_in("TL1." + "B" * 112, "north")

    @rule(booking_id=bookings, data=st.data(), gate=GATES, via=VIA)
    def altered_code(self, booking_id, data, gate, via):
        code = self.code(booking_id, 0)
        altered = data.draw(variants(code))
        if altered == code:
            return
        with pytest.raises(InvalidTicketCodeError):
            self.doors[via].check_in(altered, gate, "0001")
        (answer,) = self.doors[via].merge(gate, [OfflineScan("0001", altered, START)])
        assert answer.outcome == REFUSED

    @invariant()
    def the_store_holds_one_admission_per_ticket_in_and_every_conflict(self):
        recorder = self.ledgers[0].recorder
        topics = [get_topic(Booking.TicketCheckedIn), get_topic(Booking.ScanConflict)]
        admitted = len(recorder.select_notifications(1, 10_000, topics=topics[:1]))
        conflicts = len(recorder.select_notifications(1, 10_000, topics=topics[1:]))
        assert admitted == sum(len(b.scans) for b in self.model.values())
        assert conflicts == sum(len(kept) - 1 for b in self.model.values() for kept in b.scans.values())

    @invariant()
    def the_door_counts_match_the_model_after_catch_up(self):
        self.follower.catch_up()
        counts = self.follower.view.door_counts()
        live = [b for b in self.model.values() if not b.cancelled]
        expected = {
            "sold": sum(b.quantity for b in live),
            "admitted": sum(len(b.scans) for b in live),
            "conflicts": sum(len(kept) - 1 for b in live for kept in b.scans.values()),
        }
        assert [{k: v for k, v in row.items() if k not in ("event", "tier")} for row in counts] == (
            [expected] if live else []
        )

    def teardown(self):
        self.resources.close()


def assert_is(scan, kept: tuple[str, str | None]) -> None:
    """``scan`` is the kept scan (gate, scan id; an id of None is the door's own, any)."""
    gate, scan_id = kept
    assert scan.gate == gate and scan_id in (None, scan.scan_id)


class PostgresDoorMachine(DoorMachine):
    def open_store(self) -> dict[str, str]:
        return postgres_schema_for(self.resources)


DoorMachine.TestCase.settings = machine_settings(max_examples=30, stateful_step_count=25)
PostgresDoorMachine.TestCase.settings = DoorMachine.TestCase.settings
TestDoorOnSQLite = DoorMachine.TestCase
TestDoorOnPostgres = pytest.mark.postgres(PostgresDoorMachine.TestCase)
