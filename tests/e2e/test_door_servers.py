"""The door from outside, through real gunicorn servers (on PostgreSQL two servers on one
store, one gate each; on SQLite one): 2 gates × 500 scans, a tenth of them tickets scanned
again, 5 forged codes, then an offline gate's upload. Every valid ticket is admitted once,
every repeat is 409 naming the first scan, every forgery 422; and the store's own history,
read afterwards, holds exactly the admissions that were answered 200."""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from uuid import UUID, uuid4

import pytest
from eventsourcing.utils import get_topic

from application import BookingLedger
from application.checkin.codes import PREFIX, TicketCodes, encode, read_code
from domain.bookings import Booking
from domain.tickets import TicketRef
from scripts.harness.processes import call, gunicorn, wait_for

SCANNER = {"Authorization": "Bearer door-staff-token"}
ADMIN = {"Authorization": "Bearer admin-token"}
SCANS_PER_GATE = 500


def forgeries(real: str) -> list[str]:
    """Five ways to fake a ticket: a signature changed, a seat changed, another key's
    signature, a code cut short, and noise with the right prefix."""
    data = bytearray(read_code(real))
    signature_changed = bytearray(data)
    signature_changed[-1] ^= 0x40
    seat_changed = bytearray(data)
    seat_changed[19] ^= 0x01
    return [
        PREFIX + encode(bytes(signature_changed)),
        PREFIX + encode(bytes(seat_changed)),
        TicketCodes(b"someone else's secret, 32 bytes!").sign(TicketRef(UUID(bytes=bytes(data[:16])), 0)),
        real[:-10],
        PREFIX + encode(random.Random(5).randbytes(84)),
    ]


def recorded(env: dict[str, str], kind: type) -> list:
    with BookingLedger(env=env) as ledger:
        notifications = ledger.recorder.select_notifications(1, 100_000, topics=[get_topic(kind)])
        return [ledger.mapper.to_domain_event(n) for n in notifications]


@pytest.mark.slow
def test_two_gates_admit_every_ticket_once_refuse_repeats_and_forgeries(store_env, tmp_path):
    env = {
        **store_env,
        "PROJECT_IN_PROCESS": "yes",
        "DEMO_TIERS": "GA:10.00:1000",
        "BOOKING_RATE_LIMIT": "",
        "ADMIN_AUTH_RATE_LIMIT": "",
        "SCANNER_TOKEN": "door-staff-token",
        "ADMIN_TOKEN": "admin-token",
    }
    servers = 2 if store_env["PERSISTENCE_MODULE"] == "eventsourcing.postgres" else 1
    with ExitStack() as stack:
        bases = [
            stack.enter_context(gunicorn(env, stack.enter_context(open(tmp_path / f"{n}.log", "w"))))[0]
            for n in range(servers)
        ]
        gate_base = {"north": bases[0], "south": bases[-1], "offline-east": bases[0]}

        tickets = []  # (bookingId, seat, code)
        for n in range(90):
            booked = call(
                f"{bases[n % servers]}/api/tickets/book", {"userId": f"fan-{n}", "tier": "GA", "quantity": 10}
            )
            assert booked.status == 201, booked.body
            listed = call(f"{bases[-1 - n % servers]}/api/bookings/{booked.body['bookingId']}/tickets")
            assert listed.status == 200 and len(listed.body) == 10
            tickets += [(booked.body["bookingId"], t["seat"], t["code"]) for t in listed.body]

        online, kept_back = tickets[:-5], tickets[-5:]  # 895 scanned at the doors, 5 only offline
        rng = random.Random(25)
        repeats = rng.sample(online, 100)
        fakes = forgeries(online[0][2])
        scans = [(code, False) for _, _, code in online + repeats] + [(code, True) for code in fakes]
        rng.shuffle(scans)
        assert len(scans) == 2 * SCANS_PER_GATE
        plan = [("north", code, forged) for code, forged in scans[:SCANS_PER_GATE]]
        plan += [("south", code, forged) for code, forged in scans[SCANS_PER_GATE:]]
        rng.shuffle(plan)  # both gates' scans interleaved in time

        assert call(f"{bases[0]}/api/checkin", {"code": online[0][2], "gate": "north"}).status == 401  # no token

        def scan(step):
            gate, code, forged = step
            return gate, code, forged, call(f"{gate_base[gate]}/api/checkin", {"code": code, "gate": gate}, SCANNER)

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(scan, plan))

        statuses = Counter((forged, reply.status) for _, _, forged, reply in answers)
        assert statuses == {(False, 200): 895, (False, 409): 100, (True, 422): 5}, statuses
        admitted = {code: (gate, reply.body) for gate, code, forged, reply in answers if reply.status == 200}
        assert len(admitted) == 895
        for _, code, _, reply in answers:
            if reply.status == 409:
                first_gate, first = admitted[code]
                assert reply.body["error"]["code"] == "ALREADY_CHECKED_IN"
                assert {d["path"]: d["message"] for d in reply.body["error"]["details"]} == {
                    "checkedInAt": first["checkedInAt"],
                    "gate": first_gate,
                }

        # An offline gate uploads what it let in: the 5 tickets kept back and 10 admitted online.
        upload = [
            {"scanId": str(uuid4()), "code": code, "scannedAt": "2026-12-05T19:00:00+00:00"} for *_, code in kept_back
        ]
        upload += [
            {"scanId": str(uuid4()), "code": code, "scannedAt": "2026-12-05T19:05:00+00:00"} for *_, code in online[:10]
        ]
        merged = call(
            f"{gate_base['offline-east']}/api/checkin/uploads", {"gate": "offline-east", "scans": upload}, SCANNER
        )
        again = call(f"{bases[-1]}/api/checkin/uploads", {"gate": "offline-east", "scans": upload}, SCANNER)
        assert merged.status == again.status == 200
        assert (merged.body["admitted"], merged.body["conflicts"], merged.body["refused"]) == (5, 10, 0)
        assert again.body["results"] == merged.body["results"]
        for result, (*_, code) in zip(merged.body["results"][5:], online[:10], strict=True):
            assert result["outcome"] == "conflict" and result["first"]["gate"] == admitted[code][0]

    # The store's own history, read with no server in between.
    checked_in = recorded(store_env, Booking.TicketCheckedIn)
    assert Counter((str(e.originator_id), e.seat) for e in checked_in) == Counter((b, s) for b, s, _ in tickets)
    by_ticket = {(str(e.originator_id), e.seat): e.gate for e in checked_in}
    for booking, seat, code in online:
        assert by_ticket[(booking, seat)] == admitted[code][0]
    assert {by_ticket[(b, s)] for b, s, _ in kept_back} == {"offline-east"}
    conflicts = recorded(store_env, Booking.ScanConflict)
    assert sorted((str(e.originator_id), e.seat) for e in conflicts) == sorted((b, s) for b, s, _ in online[:10])


@pytest.mark.slow
def test_the_feed_and_the_dashboard_count_the_door(store_env, tmp_path):
    env = {
        **store_env,
        "PROJECT_IN_PROCESS": "yes",
        "DEMO_TIERS": "VIP:100.00:10",
        "ADMIN_TOKEN": "admin-token",
        "ADMIN_AUTH_RATE_LIMIT": "",
        "BOOKING_RATE_LIMIT": "",
    }
    with open(tmp_path / "server.log", "w") as log, gunicorn(env, log) as (base, _):
        booked = call(f"{base}/api/tickets/book", {"userId": "ann", "tier": "VIP", "quantity": 3}).body
        codes = [t["code"] for t in call(f"{base}/api/bookings/{booked['bookingId']}/tickets").body]
        assert call(f"{base}/api/checkin", {"code": codes[0], "gate": "north"}, ADMIN).status == 200
        cancel = call(f"{base}/api/bookings/{booked['bookingId']}/cancel", {"userId": "ann"})
        assert (cancel.status, cancel.body["error"]["code"]) == (409, "BOOKING_CHECKED_IN")

        def feed_types():
            return [item["type"] for item in call(f"{base}/api/feed?limit=1000", headers=ADMIN).body["items"]]

        wait_for(lambda: "ticket.checked_in" in feed_types(), what="ticket.checked_in in the feed")
        item = next(
            i
            for i in call(f"{base}/api/feed?limit=1000", headers=ADMIN).body["items"]
            if i["type"] == "ticket.checked_in"
        )
        assert (item["bookingId"], item["gate"], item["userId"], item["quantity"]) == (
            booked["bookingId"],
            "north",
            "ann",
            1,
        )
        door = call(f"{base}/api/admin/overview", headers=ADMIN).body["door"]
        assert door == [{"event": "main", "tier": "VIP", "sold": 3, "admitted": 1, "noShows": 2, "conflicts": 0}]
