"""Door devices from outside, through real gunicorn servers. A manager (signed in as
themselves) registers a phone for one event; its token admits that event's tickets, each
scan naming the device, and another event's ticket is answered exactly as a forged code,
online and offline. Revoked by the manager on one server, the device is refused on the
other within a second (timed from the revocation's answer), its offline upload too, with
``DEVICE_REVOKED``; the shared scanner token is untouched. Registration and revocation are
in the store with the manager as their actor."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from domain.bookings import Booking
from domain.credentials import Credential
from scripts.harness.processes import Reply, gunicorn
from tests.e2e.staff_http import Session, send, sign_in
from tests.e2e.test_door_servers import recorded

ADMIN = {"Authorization": "Bearer admin-token"}
SCANNER = {"Authorization": "Bearer door-staff-token"}
MANAGER = ("manager@door.example", "a long manager password")
FORGED = "TL1." + "A" * 112


def servers(stack: ExitStack, store_env: dict[str, str], tmp_path: Path, count: int) -> list[str]:
    env = {
        **store_env,
        "PROJECT_IN_PROCESS": "yes",
        "DEMO_TIERS": "GA:10.00:1000",
        "BOOKING_RATE_LIMIT": "",
        "ADMIN_AUTH_RATE_LIMIT": "",
        "STAFF_SIGN_IN_LIMIT_PER_ADDRESS": "",
        "STAFF_SIGN_IN_LIMIT_PER_ACCOUNT": "",
        "SCANNER_TOKEN": "door-staff-token",
        "ADMIN_TOKEN": "admin-token",
    }
    return [
        stack.enter_context(gunicorn(env, stack.enter_context(open(tmp_path / f"{n}.log", "w"))))[0]
        for n in range(count)
    ]


def a_gig_and_its_manager(base: str) -> Session:
    """The event ``gig`` (tier GIG_GA) of the default organizer, and its manager signed in."""
    event = {"eventId": "gig", "name": "The Gig", "tiers": [{"tier": "GIG_GA", "price": "5.00", "capacity": 100}]}
    assert send(base, "POST", "/api/admin/events", event, ADMIN).status == 201
    member = {"email": MANAGER[0], "role": "manager", "password": MANAGER[1]}
    assert send(base, "POST", "/api/admin/organizers/default/members", member, ADMIN).status == 201
    return sign_in(base, *MANAGER)


def codes(base: str, tier: str, quantity: int) -> list[str]:
    booked = send(base, "POST", "/api/tickets/book", {"userId": f"fan-{uuid4()}", "tier": tier, "quantity": quantity})
    assert booked.status == 201, booked.body
    return [t["code"] for t in send(base, "GET", f"/api/bookings/{booked.body['bookingId']}/tickets").body]


def register(base: str, manager: Session) -> dict[str, Any]:
    answer = send(
        base, "POST", "/api/admin/events/gig/devices", {"name": "North phone", "gate": "north-1"}, manager.headers()
    )
    assert answer.status == 201, answer.body
    return dict(answer.body)


def bearer(device: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {device['token']}"}


def upload(code: str) -> dict[str, Any]:
    scan = {"scanId": str(uuid4()), "code": code, "scannedAt": datetime.now(UTC).isoformat()}
    return {"gate": "north-1", "scans": [scan]}


def test_a_device_admits_its_events_tickets_as_itself_and_nothing_of_another_event(store_env, tmp_path):
    with ExitStack() as stack:
        [base] = servers(stack, store_env, tmp_path, 1)
        manager = a_gig_and_its_manager(base)
        device = register(base, manager)
        assert device["pairingUrl"].endswith(f"/scanner#device={device['token']}")
        assert device["qrSvg"].startswith("<svg")
        gig, main = codes(base, "GIG_GA", 2), codes(base, "GA", 1)

        paired = send(base, "GET", "/api/checkin/device", None, bearer(device))
        assert (paired.status, paired.body["eventId"], paired.body["eventName"], paired.body["gate"]) == (
            200,
            "gig",
            "The Gig",
            "north-1",
        )
        admitted = send(base, "POST", "/api/checkin", {"code": gig[0], "gate": "north-1"}, bearer(device))
        assert admitted.status == 200, admitted.body

        # Another event's real ticket is answered as a forgery, online and offline.
        other = send(base, "POST", "/api/checkin", {"code": main[0], "gate": "north-1"}, bearer(device))
        forged = send(base, "POST", "/api/checkin", {"code": FORGED, "gate": "north-1"}, bearer(device))
        assert (other.status, other.body) == (forged.status, forged.body) == (422, forged.body)
        [other_offline] = send(base, "POST", "/api/checkin/uploads", upload(main[0]), bearer(device)).body["results"]
        [forged_offline] = send(base, "POST", "/api/checkin/uploads", upload(FORGED), bearer(device)).body["results"]
        assert (other_offline["outcome"], other_offline["reason"]) == ("refused", forged_offline["reason"])
        assert other_offline["ticketId"] is None  # not even which ticket it was
        listed = send(base, "GET", "/api/checkin/tickets", None, bearer(device)).body["tickets"]
        assert {t["tier"] for t in listed} == {"GIG_GA"}

        # The shared token still admits every event's tickets, naming no device.
        assert send(base, "POST", "/api/checkin", {"code": main[0], "gate": "south"}, SCANNER).status == 200
        assert send(base, "GET", "/api/admin/overview", None, bearer(device)).status == 401  # the door's alone

    scans = {(e.gate, getattr(e, "actor", None)) for e in recorded(store_env, Booking.TicketCheckedIn)}
    assert scans == {("north-1", f"device:{device['deviceId']}"), ("south", None)}
    [issued] = [e for e in recorded(store_env, Credential.Issued) if e.kind == "device"]
    assert issued.actor.startswith("member:") and (issued.event_code, issued.gate) == ("gig", "north-1")


def test_a_revoked_device_is_refused_on_every_server_within_a_second(postgres_env, tmp_path):
    with ExitStack() as stack:
        here, there = servers(stack, postgres_env, tmp_path, 2)
        manager = a_gig_and_its_manager(here)
        device = register(here, manager)
        gig = codes(here, "GIG_GA", 3)
        scan = {"code": gig[0], "gate": "north-1", "scanId": "0001"}
        assert send(there, "POST", "/api/checkin", scan, bearer(device)).status == 200
        kept_offline = upload(gig[1])  # made while paired, uploaded after the revocation

        # The device keeps scanning on the other server (its retry: answered 200 while paired).
        answers: list[tuple[float, Reply]] = []
        stop = threading.Event()

        def keep_scanning() -> None:
            while not stop.is_set():
                answers.append((time.monotonic(), send(there, "POST", "/api/checkin", scan, bearer(device))))

        scanner = threading.Thread(target=keep_scanning)
        scanner.start()
        try:
            time.sleep(0.5)
            path = f"/api/admin/events/gig/devices/{device['deviceId']}/revoke"
            assert send(here, "POST", path, None, manager.headers()).status == 200
            revoked_at = time.monotonic()
            time.sleep(1.5)
        finally:
            stop.set()
            scanner.join()

        assert {reply.status for at, reply in answers if at < revoked_at - 0.2} == {200}
        refused = [at for at, reply in answers if reply.status == 403]
        assert refused and refused[0] - revoked_at < 1.0, (refused[:1], revoked_at)
        print(f"the other server's first refusal: {refused[0] - revoked_at:+.3f} s from the revocation's answer")
        late = [(at, reply.status) for at, reply in answers if at > revoked_at + 1.0 and reply.status != 403]
        assert not late
        for base in (here, there):
            for method, path, body in (
                ("POST", "/api/checkin/uploads", kept_offline),
                ("POST", "/api/checkin", {"code": gig[2], "gate": "north-1"}),
                ("GET", "/api/checkin/device", None),
                ("GET", "/api/checkin/tickets", None),
            ):
                answer = send(base, method, path, body, bearer(device))
                assert (answer.status, answer.body["error"]["code"]) == (403, "DEVICE_REVOKED"), (base, path)
            assert send(base, "POST", "/api/checkin", {"code": gig[2], "gate": "x"}, SCANNER).status in (200, 409)
        listed = send(there, "GET", "/api/admin/events/gig/devices", None, manager.headers(change=False)).body
        assert [d["revokedAt"] is not None for d in listed] == [True]

    [revocation] = [e for e in recorded(postgres_env, Credential.Revoked)]
    assert revocation.actor.startswith("member:")
    merged = {e.seat for e in recorded(postgres_env, Booking.TicketCheckedIn) if getattr(e, "actor", None)}
    assert len(merged) == 1  # the first ticket only: nothing of the upload after revocation
