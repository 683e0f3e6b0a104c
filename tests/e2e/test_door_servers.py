"""The door from outside, through real gunicorn servers (on PostgreSQL two servers on one
store, one gate each; on SQLite one): 2 gates × 500 scans, a tenth of them tickets scanned
again, 5 forged codes, then an offline gate's upload. Every valid ticket is admitted once,
every repeat is 409 naming the first scan, every forgery 422; and the store's own history,
read afterwards, holds exactly the admissions that were answered 200. Then what a real
code altered by one character is, and what two gates' handhelds that number their scans
alike (0001, 0002, ...) are told, online and offline."""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.utils import get_topic

from application import BookingLedger
from application.checkin.codes import PREFIX, TicketCodes, encode, read_code
from domain.bookings import Booking
from domain.tickets import TicketRef, ticket_id
from scripts.harness.processes import Reply, call, gunicorn, wait_for

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


def door_servers(stack: ExitStack, store_env: dict[str, str], tmp_path: Path) -> list[str]:
    """The base URLs of the door's servers: two on one PostgreSQL store, one on SQLite."""
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
    return [
        stack.enter_context(gunicorn(env, stack.enter_context(open(tmp_path / f"{n}.log", "w"))))[0]
        for n in range(servers)
    ]


def tickets_of(base: str, user: str, quantity: int) -> list[dict]:
    """A new booking's tickets as its page lists them (``ticketId``, ``seat``, ``code``...)."""
    booked = call(f"{base}/api/tickets/book", {"userId": user, "tier": "GA", "quantity": quantity})
    assert booked.status == 201, booked.body
    return call(f"{base}/api/bookings/{booked.body['bookingId']}/tickets").body


def scans_recorded(env: dict[str, str], kind: type) -> list[tuple[str, str, str]]:
    """Each scan of ``kind`` in the store's history: its ticket, gate and scan id."""
    return [(str(ticket_id(e.originator_id, e.seat)), e.gate, e.scan_id) for e in recorded(env, kind)]


@pytest.mark.slow
def test_two_gates_admit_every_ticket_once_refuse_repeats_and_forgeries(store_env, tmp_path):
    with ExitStack() as stack:
        bases = door_servers(stack, store_env, tmp_path)
        servers = len(bases)
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


def as_issued_only(code: str) -> list[str]:
    """The issue's own variants of a real code: "!", a space, "." or NUL inserted after its
    40th character, "==" appended, "+" written for "-" and "/" for "_"."""
    return [
        *(code[:40] + stray + code[40:] for stray in ("!", " ", ".", "\0")),
        code + "==",
        code.replace("-", "+", 1),
        code.replace("_", "/", 1),
    ]


@pytest.mark.slow
def test_a_code_is_admitted_only_as_issued_online_and_offline(store_env, tmp_path):
    with ExitStack() as stack:
        bases = door_servers(stack, store_env, tmp_path)
        ticket = next(t for t in tickets_of(bases[0], "ann", 10) if "-" in t["code"] and "_" in t["code"])
        variants = as_issued_only(ticket["code"])
        for n, variant in enumerate(variants):
            reply = call(f"{bases[n % len(bases)]}/api/checkin", {"code": variant, "gate": "north-1"}, SCANNER)
            assert reply.status == 422, (variant, reply.body)
            assert reply.body["error"]["code"] == "INVALID_TICKET_CODE"
        at = "2026-12-05T19:00:00+00:00"
        scans = [{"scanId": f"{n:04}", "code": variant, "scannedAt": at} for n, variant in enumerate(variants)]
        uploaded = call(f"{bases[-1]}/api/checkin/uploads", {"gate": "west", "scans": scans}, SCANNER)
        assert uploaded.status == 200 and uploaded.body["refused"] == len(variants)
        assert {r["outcome"] for r in uploaded.body["results"]} == {"refused"}
        real = {"code": ticket["code"], "gate": "north-1", "scanId": "0001"}
        assert call(f"{bases[-1]}/api/checkin", real, SCANNER).status == 200  # the code as issued

    assert scans_recorded(store_env, Booking.TicketCheckedIn) == [(ticket["ticketId"], "north-1", "0001")]
    assert scans_recorded(store_env, Booking.ScanConflict) == []


@pytest.mark.slow
def test_two_gates_numbering_their_scans_alike_are_told_apart_online_and_offline(store_env, tmp_path):
    with ExitStack() as stack:
        bases = door_servers(stack, store_env, tmp_path)
        server = {"north-1": bases[0], "south-1": bases[-1], "west": bases[0], "south": bases[-1], "east": bases[0]}
        online = tickets_of(bases[0], "ann", 10) + tickets_of(bases[-1], "cy", 10)
        offline, one, other = tickets_of(bases[-1], "bob", 3)

        def scan(ticket: dict, gate: str) -> Reply:
            """``gate``'s handheld scans ``ticket`` as its own scan 0001."""
            return call(
                f"{server[gate]}/api/checkin", {"code": ticket["code"], "gate": gate, "scanId": "0001"}, SCANNER
            )

        def upload(gate: str, *scans: tuple[dict, str, str]) -> list[dict]:
            """``gate``'s offline scans: (ticket, scan id, time)."""
            sent = [{"code": t["code"], "scanId": scan_id, "scannedAt": at} for t, scan_id, at in scans]
            reply = call(f"{server[gate]}/api/checkin/uploads", {"gate": gate, "scans": sent}, SCANNER)
            assert reply.status == 200, reply.body
            return reply.body["results"]

        jobs = [(ticket, gate) for ticket in online for gate in ("north-1", "south-1")]
        with ThreadPoolExecutor(8) as pool:  # north-1 and south-1 scan each ticket at once
            answers = list(pool.map(lambda job: scan(*job), jobs))
        admitted_by = {}
        for ticket, *replies in zip(online, answers[0::2], answers[1::2], strict=True):
            assert sorted(r.status for r in replies) == [200, 409], [r.body for r in replies]
            first, refused = sorted(replies, key=lambda r: r.status)
            assert refused.body["error"]["code"] == "ALREADY_CHECKED_IN"
            assert {d["path"]: d["message"] for d in refused.body["error"]["details"]}["gate"] == first.body["gate"]
            assert scan(ticket, first.body["gate"]).body == first.body  # the admitting gate's retry
            admitted_by[ticket["ticketId"]] = first.body["gate"]

        assert [r["outcome"] for r in upload("west", (offline, "0002", "2026-12-05T19:00:00+00:00"))] == ["admitted"]
        told = upload("south", (offline, "0002", "2026-12-05T19:02:00+00:00"))
        assert [(r["outcome"], r["ticketId"], r["first"]["gate"], r["first"]["scanId"]) for r in told] == [
            ("conflict", offline["ticketId"], "west", "0002")
        ]
        assert upload("south", (offline, "0002", "2026-12-05T19:02:00+00:00")) == told  # sent again
        east = upload("east", (one, "0001", "2026-12-05T19:01:00+00:00"), (other, "0001", "2026-12-05T19:00:00+00:00"))
        assert [(r["ticketId"], r["outcome"]) for r in east] == [
            (one["ticketId"], "admitted"),
            (other["ticketId"], "admitted"),
        ]

        def door() -> list[dict]:
            return call(f"{bases[-1]}/api/admin/overview", headers=ADMIN).body["door"]

        wait_for(lambda: sum(row["conflicts"] for row in door()) == 1, what="the conflict in the door's counts")
        assert door() == [{"event": "main", "tier": "GA", "sold": 23, "admitted": 23, "noShows": 0, "conflicts": 1}]

    expected = [(t, gate, "0001") for t, gate in admitted_by.items()]
    expected += [
        (offline["ticketId"], "west", "0002"),
        (one["ticketId"], "east", "0001"),
        (other["ticketId"], "east", "0001"),
    ]
    assert sorted(scans_recorded(store_env, Booking.TicketCheckedIn)) == sorted(expected)
    assert scans_recorded(store_env, Booking.ScanConflict) == [(offline["ticketId"], "south", "0002")]


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
