"""The role table of docs/security.md, run cell by cell through a real gunicorn server (on
SQLite and on PostgreSQL): for every admin endpoint, the operator, a member of the default
organizer with each role (signed in with a browser session, changes with the CSRF token),
and the owner of another organizer are answered exactly as the table says. The table is read
from the document, so the document and the server cannot drift apart; and every admin route
of the app must have a row, so a new endpoint cannot go untested (it is the operator's alone
until it gets one: ``web/identity/roles.py``)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from scripts.harness.processes import ROOT, Reply
from tests.e2e.staff_http import Session, send, sign_in
from tests.processes import clean_gunicorn
from web import create_app

ADMIN = {"Authorization": "Bearer roles-admin-token"}
PASSWORD = "a long enough password"
ROLES = ("owner", "manager", "box_office", "door", "viewer")
TIER = "ROLE_TIER"  # a tier of the default organizer that every reading row asks about


def role_table() -> dict[str, dict[str, str]]:
    """``METHOD /rule`` → column → cell, from the table between the markers in docs/security.md."""
    text = (ROOT / "docs" / "security.md").read_text()
    block = text.split("<!-- roles-table:", 1)[1].split("<!-- end of roles-table -->", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")] for line in block.splitlines()[1:] if "|" in line
    ]
    header, *body = [row for row in rows if not set(row[0]) <= {"-", " "}]
    return {row[0].strip("`"): dict(zip(header[1:], row[1:], strict=True)) for row in body}


def test_every_admin_route_has_a_row_and_every_row_a_route(tmp_path: Path):
    store = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "l.sqlite3")}
    app = create_app({"LEDGER_ENV": store, "PROJECT_IN_PROCESS": "yes", "INTEGRATIONS_IN_PROCESS": "no"})
    try:
        routes = {
            f"{method} {rule.rule}"
            for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/api/admin")
            for method in rule.methods - {"HEAD", "OPTIONS"}
        }
    finally:
        app.extensions["services"].close()
    assert set(role_table()) == routes
    assert set(role_table()) == set(REQUESTS)


@dataclass
class World:
    """The server, its operator, the members of each role, and things to ask about."""

    base: str
    sessions: dict[str, Session] = field(default_factory=dict)
    names: Iterator[int] = field(default_factory=itertools.count)

    def name(self, prefix: str) -> str:
        return f"{prefix}{next(self.names)}"

    def operator(self, method: str, path: str, body: Any = None) -> Reply:
        answer = send(self.base, method, path, body, ADMIN)
        assert answer.status < 300 or answer.status == 409, (method, path, answer.body)
        return answer

    def tier(self) -> str:
        code = self.name("ROLES_")
        self.operator("POST", "/api/admin/tiers", {"tier": code, "price": "1.00", "capacity": 5})
        return code

    def member(self, organizer: str = "default", role: str = "viewer") -> str:
        body = {"email": f"{self.name('m')}@roles.example", "role": role}
        return str(self.operator("POST", f"/api/admin/organizers/{organizer}/members", body).body["memberId"])

    def key(self) -> str:
        body = {"name": "k", "role": "viewer", "expiresInDays": 1}
        return str(self.operator("POST", "/api/admin/organizers/default/api-keys", body).body["keyId"])

    def device(self) -> str:
        body = {"name": "phone", "gate": "north-1"}
        return str(self.operator("POST", "/api/admin/events/main/devices", body).body["deviceId"])

    def room_on(self) -> None:
        self.operator("POST", "/api/admin/waiting-room", {"rate": 0})

    def room_off(self) -> None:
        send(self.base, "POST", "/api/admin/waiting-room/close", None, ADMIN)


Request = Callable[[World], tuple[str, str, Any]]
HOOK = "/api/admin/webhooks"


def hook(w: World) -> str:
    return str(w.operator("POST", HOOK, {"url": "http://127.0.0.1:9/hook"}).body["endpointId"])


def room_opened(w: World) -> tuple[str, str, Any]:
    w.room_off()
    return "POST", "/api/admin/waiting-room", {"rate": 0}


def room_events(w: World) -> tuple[str, str, Any]:
    w.room_on()
    room = send(w.base, "GET", "/api/admin/waiting-room", None, ADMIN).body["roomId"]
    return "GET", f"/api/admin/waiting-room/{room}/events", None


def with_room(method: str, path: str, body: Any = None) -> Request:
    def make(w: World) -> tuple[str, str, Any]:
        w.room_on()
        return method, path, body

    return make


PAYMENTS = "/api/admin/payments"
STATEMENT = (Path(__file__).parents[1] / "integration" / "statements" / "iso20022_camt053_001_02.xml").read_text()


def paid_hold(w: World) -> str:
    """A hold awaiting its payment of 10.00 EUR, on a paid event of its own."""
    code = w.name("PAID_")
    event = {
        "eventId": w.name("paid-"),
        "name": "Paid",
        "tiers": [{"tier": code, "price": "10.00", "capacity": 5}],
        "payment": {"currency": "EUR", "secondsToPay": 900, "refundPercent": 100},
    }
    w.operator("POST", "/api/admin/events", event)
    w.room_off()  # an earlier cell may have left the waiting room on
    held = send(w.base, "POST", "/api/tickets/hold", {"userId": "payer", "tier": code, "quantity": 1})
    assert held.status == 201, (held.status, held.body)
    return str(held.body["holdId"])


COUNTER = {"amount": 1000, "currency": "EUR", "method": "cash", "receipt": "till"}


def box_office(w: World) -> tuple[str, str, Any]:
    return "POST", f"{PAYMENTS}/{paid_hold(w)}/box-office", {**COUNTER, "receipt": w.name("till-")}


def refund(w: World) -> tuple[str, str, Any]:
    booking = paid_hold(w)
    w.operator("POST", f"{PAYMENTS}/{booking}/box-office", {**COUNTER, "receipt": w.name("till-")})
    send(w.base, "POST", f"/api/bookings/{booking}/cancel", {"userId": "payer"})
    return "POST", f"{PAYMENTS}/{booking}/refunds", {"amount": 1000, "method": "cash", "providerId": w.name("r-")}


def booking(w: World) -> str:
    """A confirmed booking of the default organizer's tier, made by its user."""
    w.room_off()  # an earlier cell may have left the waiting room on
    booked = send(w.base, "POST", "/api/tickets/book", {"userId": "fan", "tier": TIER, "quantity": 1})
    assert booked.status == 201, (booked.status, booked.body)
    return str(booked.body["bookingId"])


def statement(w: World) -> tuple[str, str, Any]:
    unknown = {
        "{{AMOUNT_A}}": "1.00",
        "{{REF_A}}": "RF18539007547034",
        "{{AMOUNT_B}}": "2.00",
        "{{REF_B}}": "RF18539007547034",
    }
    xml = STATEMENT
    for placeholder, value in unknown.items():
        xml = xml.replace(placeholder, value)
    return "POST", f"{PAYMENTS}/statements", {"camt053": xml}


# A request each endpoint accepts from the operator; made afresh for every cell.
REQUESTS: dict[str, Request] = {
    "POST /api/admin/events": lambda w: (
        "POST",
        "/api/admin/events",
        {"eventId": w.name("ev-"), "name": "x", "tiers": [{"tier": w.name("EV_"), "price": "1.00", "capacity": 5}]},
    ),
    "POST /api/admin/tiers": lambda w: (
        "POST",
        "/api/admin/tiers",
        {"tier": w.name("NEW_"), "price": "1.00", "capacity": 5},
    ),
    "POST /api/admin/tiers/<tier>/capacity": lambda w: ("POST", f"/api/admin/tiers/{TIER}/capacity", {"quantity": 1}),
    "POST /api/admin/tiers/<tier>/price": lambda w: ("POST", f"/api/admin/tiers/{w.tier()}/price", {"price": "2.00"}),
    "POST /api/admin/tiers/<tier>/close": lambda w: ("POST", f"/api/admin/tiers/{w.tier()}/close", None),
    "GET /api/admin/tiers/<tier>/history": lambda w: ("GET", f"/api/admin/tiers/{TIER}/history", None),
    "GET /api/admin/tiers/<tier>/sales": lambda w: ("GET", f"/api/admin/tiers/{TIER}/sales", None),
    "GET /api/admin/overview": lambda w: ("GET", "/api/admin/overview", None),
    "GET /api/admin/audit": lambda w: ("GET", "/api/admin/audit", None),
    "POST /api/admin/organizers": lambda w: (
        "POST",
        "/api/admin/organizers",
        {"organizer": w.name("org-"), "name": "x"},
    ),
    "GET /api/admin/organizers/<organizer>/members": lambda w: ("GET", "/api/admin/organizers/default/members", None),
    "POST /api/admin/organizers/<organizer>/members": lambda w: (
        "POST",
        "/api/admin/organizers/default/members",
        {"email": f"{w.name('new')}@roles.example", "role": "viewer"},
    ),
    "DELETE /api/admin/organizers/<organizer>/members/<member_id>": lambda w: (
        "DELETE",
        f"/api/admin/organizers/default/members/{w.member()}",
        None,
    ),
    "POST /api/admin/organizers/<organizer>/api-keys": lambda w: (
        "POST",
        "/api/admin/organizers/default/api-keys",
        {"name": "ci", "role": "viewer", "expiresInDays": 1},
    ),
    "POST /api/admin/organizers/<organizer>/api-keys/<key_id>/revoke": lambda w: (
        "POST",
        f"/api/admin/organizers/default/api-keys/{w.key()}/revoke",
        None,
    ),
    "GET /api/admin/organizers/<organizer>/activity": lambda w: ("GET", "/api/admin/organizers/default/activity", None),
    "GET /api/admin/events/<event_id>/devices": lambda w: ("GET", "/api/admin/events/main/devices", None),
    "POST /api/admin/events/<event_id>/devices": lambda w: (
        "POST",
        "/api/admin/events/main/devices",
        {"name": "North door, phone 1", "gate": "north-1"},
    ),
    "POST /api/admin/events/<event_id>/devices/<device_id>/revoke": lambda w: (
        "POST",
        f"/api/admin/events/main/devices/{w.device()}/revoke",
        None,
    ),
    "POST /api/admin/bookings/<booking_id>/cancel": lambda w: (
        "POST",
        f"/api/admin/bookings/{booking(w)}/cancel",
        None,
    ),
    "GET /api/admin/webhooks": lambda w: ("GET", HOOK, None),
    "POST /api/admin/webhooks": lambda w: ("POST", HOOK, {"url": "http://127.0.0.1:9/hook"}),
    "GET /api/admin/webhooks/<endpoint_id>": lambda w: ("GET", f"{HOOK}/{hook(w)}", None),
    "GET /api/admin/webhooks/<endpoint_id>/deliveries": lambda w: ("GET", f"{HOOK}/{hook(w)}/deliveries", None),
    "POST /api/admin/webhooks/<endpoint_id>/pause": lambda w: ("POST", f"{HOOK}/{hook(w)}/pause", None),
    "POST /api/admin/webhooks/<endpoint_id>/resume": lambda w: ("POST", f"{HOOK}/{hook(w)}/resume", None),
    "POST /api/admin/webhooks/<endpoint_id>/replay": lambda w: ("POST", f"{HOOK}/{hook(w)}/replay", {"after": 0}),
    "GET /api/admin/waiting-room": with_room("GET", "/api/admin/waiting-room"),
    "POST /api/admin/waiting-room": room_opened,
    "POST /api/admin/waiting-room/rate": with_room("POST", "/api/admin/waiting-room/rate", {"rate": 1}),
    "POST /api/admin/waiting-room/close": with_room("POST", "/api/admin/waiting-room/close"),
    "GET /api/admin/waiting-room/<room_id>/events": room_events,
    "POST /api/admin/payments/<booking_id>/box-office": box_office,
    "POST /api/admin/payments/<booking_id>/refunds": refund,
    "POST /api/admin/payments/statements": statement,
    "GET /api/admin/payments/books": lambda w: ("GET", f"{PAYMENTS}/books", None),
    "GET /api/admin/payments/export/<kind>.csv": lambda w: ("GET", f"{PAYMENTS}/export/payments.csv", None),
}


@pytest.fixture
def world(store_env: dict[str, str], tmp_path: Path) -> Iterator[World]:
    env = {
        **store_env,
        "ADMIN_TOKEN": ADMIN["Authorization"].split()[1],
        "DEMO_TIERS": f"{TIER}:10.00:100",
        "PROJECT_IN_PROCESS": "yes",
        "INTEGRATIONS_IN_PROCESS": "no",  # no webhook deliveries to the made-up endpoints
        "GUNICORN_WORKERS": "1",  # the waiting room's queue in memory: one process
        "BOOKING_RATE_LIMIT": "",
        "ADMIN_AUTH_RATE_LIMIT": "",
        "STAFF_SIGN_IN_LIMIT_PER_ADDRESS": "",
        "STAFF_SIGN_IN_LIMIT_PER_ACCOUNT": "",
    }
    with ExitStack() as stack:
        w = World(stack.enter_context(clean_gunicorn(env, tmp_path)))
        w.operator("POST", "/api/admin/organizers", {"organizer": "rival", "name": "Rival"})
        people = {role: ("default", role) for role in ROLES} | {"other organizer": ("rival", "owner")}
        for column, (organizer, role) in people.items():
            email = f"{column.replace(' ', '-')}@roles.example"
            body = {"email": email, "role": role, "password": PASSWORD}
            w.operator("POST", f"/api/admin/organizers/{organizer}/members", body)
            w.sessions[column] = sign_in(w.base, email, PASSWORD)
        yield w


def ask(w: World, column: str, method: str, path: str, body: Any) -> Reply:
    headers = ADMIN if column == "operator" else w.sessions[column].headers(change=method != "GET")
    return send(w.base, method, path, body, headers)


def verdict(answer: Reply, cell: str) -> bool:
    if cell == "yes":
        return 200 <= answer.status < 300
    if cell == "none":  # answered, with nothing of the default organizer's
        return answer.status == 200 and TIER not in str(answer.body)
    return answer.status == int(cell)


def test_each_role_is_answered_as_the_table_says(world: World):
    wrong = []
    for endpoint, cells in role_table().items():
        for column, cell in cells.items():
            answer = ask(world, column, *REQUESTS[endpoint](world))
            if not verdict(answer, cell):
                wrong.append((endpoint, column, cell, answer.status, answer.body))
    assert not wrong, "\n".join(map(str, wrong))


def test_another_organizers_thing_is_answered_as_one_that_does_not_exist(world: World):
    rival = world.sessions["other organizer"]
    for path in ("/api/admin/tiers/{}/history", "/api/admin/tiers/{}/sales"):
        theirs = send(world.base, "GET", path.format(TIER), None, rival.headers(change=False))
        nothing = send(world.base, "GET", path.format("NO_SUCH_TIER"), None, rival.headers(change=False))
        assert (theirs.status, theirs.body["error"]["code"]) == (nothing.status, nothing.body["error"]["code"])
        assert re.sub(TIER, "X", theirs.body["error"]["message"]) == re.sub(
            "NO_SUCH_TIER", "X", nothing.body["error"]["message"]
        )
    price = {"price": "1.00"}
    theirs = send(world.base, "POST", f"/api/admin/tiers/{TIER}/price", price, rival.headers(change=True))
    nothing = send(world.base, "POST", "/api/admin/tiers/NO_SUCH_TIER/price", price, rival.headers(change=True))
    assert (theirs.status, theirs.body["error"]["code"]) == (nothing.status, nothing.body["error"]["code"])
    assert theirs.body["error"]["message"].replace(TIER, "X") == nothing.body["error"]["message"].replace(
        "NO_SUCH_TIER", "X"
    )
    assert send(world.base, "GET", f"/api/tiers/{TIER}", None).body["price"] == "10.00"  # and nothing changed
    theirs = send(world.base, "POST", f"/api/admin/bookings/{booking(world)}/cancel", None, rival.headers(change=True))
    missing = uuid4()
    nothing = send(world.base, "POST", f"/api/admin/bookings/{missing}/cancel", None, rival.headers(change=True))
    assert (
        (theirs.status, theirs.body["error"]["code"])
        == (nothing.status, nothing.body["error"]["code"])
        == (
            404,
            "BOOKING_NOT_FOUND",
        )
    )
    assert re.sub(r"'[^']*'", "X", theirs.body["error"]["message"]) == re.sub(
        r"'[^']*'", "X", nothing.body["error"]["message"]
    )
    own_organizer = send(world.base, "GET", "/api/admin/organizers/default/members", None, rival.headers(change=False))
    no_organizer = send(world.base, "GET", "/api/admin/organizers/nobody/members", None, rival.headers(change=False))
    assert own_organizer.status == no_organizer.status == 404
    assert own_organizer.body["error"]["code"] == no_organizer.body["error"]["code"] == "ORGANIZER_NOT_FOUND"


def test_who_cancelled_a_booking_for_its_user_is_in_the_activity_and_a_users_own_cancel_is_not(world: World):
    counter, own = booking(world), booking(world)
    box_office = world.sessions["box_office"].headers(change=True)
    cancelled = send(world.base, "POST", f"/api/admin/bookings/{counter}/cancel", None, box_office)
    assert (cancelled.status, cancelled.body["status"], cancelled.body["userId"]) == (200, "cancelled", "fan")
    assert send(world.base, "POST", f"/api/bookings/{own}/cancel", {"userId": "fan"}).status == 200
    activity = world.operator("GET", "/api/admin/organizers/default/activity?kind=booking").body
    rows = {row["bookingId"]: (row["actor"].split(":")[0], row["actorName"], row["what"]) for row in activity}
    assert rows[counter] == ("member", "box_office@roles.example", "Cancelled")
    assert own not in rows


def test_who_changed_a_price_is_in_the_activity_with_the_price_before_and_after(world: World):
    tier = world.tier()
    manager = world.sessions["manager"].headers(change=True)
    changed = send(world.base, "POST", f"/api/admin/tiers/{tier}/price", {"price": "2.50"}, manager)
    assert (changed.status, changed.body["price"], changed.body["version"]) == (200, "2.50", 2)
    activity = world.operator("GET", f"/api/admin/organizers/default/activity?kind=tier&search={tier}").body
    rows = [(row["actorName"], row["what"], row["detail"]) for row in activity]  # the name: of the actor it names
    assert ("manager@roles.example", "PriceChanged", "from 1.00 to 2.50") in rows
