"""Other users' bookings, through Flask's test client on both stores: nothing public names a
booking or its user, and a stranger's request on a booking is answered exactly as one on a
booking that does not exist."""

from __future__ import annotations

import re
import uuid

import pytest
from flask import Flask

from tests.e2e.conftest import ADMIN_TOKEN, book
from tests.e2e.test_api import error_code

VICTIM = "victim-3f9c2a"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def victims_bookings(admin_app: Flask) -> list[str]:
    """A victim's confirmed booking, active hold, cancelled booking and confirmed hold."""
    client = admin_app.test_client()
    confirmed = book(client, VICTIM, "GA").json["bookingId"]
    held = client.post("/api/tickets/hold", json={"userId": VICTIM, "tier": "GA", "quantity": 1}).json["holdId"]
    cancelled = book(client, VICTIM, "GA").json["bookingId"]
    client.post(f"/api/bookings/{cancelled}/cancel", json={"userId": VICTIM})
    bought = client.post("/api/tickets/hold", json={"userId": VICTIM, "tier": "VIP", "quantity": 1}).json["holdId"]
    client.post(f"/api/holds/{bought}/confirm", json={"userId": VICTIM})
    return [confirmed, held, cancelled, bought]


PUBLIC = [
    "/api/tickets",
    "/api/tickets/stream",
    "/api/tiers/GA",
    "/api/tiers/GA/history",
    "/api/tiers/VIP/history?limit=1000",
    "/api/tiers/GA?atVersion=3",
    "/",
    "/metrics",
    "/ready",
    "/health",
]


@pytest.mark.parametrize("path", PUBLIC)
def test_no_public_endpoint_names_a_booking_or_its_user(admin_app, victims_bookings, path):
    text = admin_app.test_client().get(path).get_data(as_text=True)
    assert VICTIM not in text
    assert not set(UUID_TEXT.findall(text)) & set(victims_bookings)


def test_the_public_history_keeps_the_figures_and_drops_who_and_which(admin_app, victims_bookings):
    items = admin_app.test_client().get("/api/tiers/GA/history").json["items"]
    assert [(i["event"], i["availableChange"], i["availableQuantity"]) for i in items] == [
        ("Created", 50, 50),
        ("TicketsBooked", -1, 49),
        ("TicketsHeld", -1, 48),
        ("TicketsBooked", -1, 47),
        ("TicketsReleased", 1, 48),
    ]
    assert all(
        set(i) == {"version", "event", "at", "availableChange", "capacity", "sold", "held", "availableQuantity"}
        for i in items
    )


def test_the_full_history_with_bookings_and_users_is_the_admins(admin_app, victims_bookings):
    client = admin_app.test_client()
    items = client.get("/api/admin/tiers/GA/history", headers=ADMIN).json["items"]
    assert [(i["bookingId"], i["userId"]) for i in items[1:]] == [
        (victims_bookings[0], VICTIM),
        (victims_bookings[1], VICTIM),
        (victims_bookings[2], VICTIM),
        (victims_bookings[2], VICTIM),
    ]
    refused = client.get("/api/admin/tiers/GA/history")
    assert (refused.status_code, error_code(refused)) == (401, "UNAUTHORIZED")
    paged = client.get("/api/admin/tiers/GA/history?after=1&limit=2", headers=ADMIN).json
    assert ([i["version"] for i in paged["items"]], paged["nextAfter"]) == ([2, 3], 3)


ENDINGS = [("bookings", "cancel", 0), ("holds", "confirm", 1), ("holds", "release", 1)]


@pytest.mark.parametrize(("kind", "action", "which"), ENDINGS)
def test_a_strangers_booking_is_not_found_exactly_like_an_unknown_one(admin_app, victims_bookings, kind, action, which):
    client = admin_app.test_client()
    booking_id, unknown = victims_bookings[which], str(uuid.uuid4())
    strangers = client.post(f"/api/{kind}/{booking_id}/{action}", json={"userId": "mallory"})
    nobodys = client.post(f"/api/{kind}/{unknown}/{action}", json={"userId": "mallory"})
    assert (strangers.status_code, error_code(strangers)) == (404, "BOOKING_NOT_FOUND")
    assert strangers.get_data(as_text=True).replace(booking_id, "ID") == nobodys.get_data(as_text=True).replace(
        unknown, "ID"
    )
    assert strangers.headers.get("Content-Length") == nobodys.headers.get("Content-Length")
    assert client.get(f"/api/bookings/{booking_id}").json["status"] == ["confirmed", "held"][which]


@pytest.mark.parametrize(("kind", "action", "which"), ENDINGS)
def test_a_strangers_request_on_an_ended_booking_learns_nothing_of_its_state(
    admin_app, victims_bookings, kind, action, which
):
    """A cancelled booking and a confirmed hold: the owner hears 409, a stranger 404."""
    client = admin_app.test_client()
    ended = victims_bookings[2 if kind == "bookings" else 3]
    owner = client.post(f"/api/{kind}/{ended}/{action}", json={"userId": VICTIM})
    stranger = client.post(f"/api/{kind}/{ended}/{action}", json={"userId": "mallory"})
    assert owner.status_code in (200, 409)
    assert (stranger.status_code, error_code(stranger)) == (404, "BOOKING_NOT_FOUND")
