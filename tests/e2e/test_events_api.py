"""Several events through the API (on both stores): the seed's contract for the default event
unchanged by another event, each event's tiers listed, and its window kept by every command."""

from __future__ import annotations

from tests.e2e.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
LATER = {
    "eventId": "summer-2027",
    "name": "Summer",
    "startsAt": "2027-07-01T18:00:00+00:00",
    "saleOpensAt": "2027-06-01T10:00:00+00:00",
    "tiers": [{"tier": "S_VIP", "price": "80.00", "capacity": 10}, {"tier": "S_GA", "price": "20.00", "capacity": 50}],
}
NOW = {
    "eventId": "tonight",
    "name": "Tonight",
    "saleClosesAt": "2099-01-01T00:00:00+00:00",
    "tiers": [{"tier": "T_GA", "price": "15.00", "capacity": 3}],
}


def test_another_event_leaves_the_default_events_contract_as_it_was(admin_app):
    client = admin_app.test_client()
    before = client.get("/api/tickets").json
    for event in (LATER, NOW):
        created = client.post("/api/admin/events", json=event, headers=ADMIN)
        assert created.status_code == 201, created.json
    assert client.get("/api/tickets").json == before  # VIP and GA of the default event, as before
    booked = client.post("/api/tickets/book", json={"userId": "ann", "tier": "VIP", "quantity": 1})
    assert (booked.status_code, booked.json["remainingQuantity"]) == (201, 4)
    listed = client.get("/api/events").json
    assert [(e["eventId"], e["capacity"], e["onSaleNow"]) for e in listed] == [
        ("main", 55, True),
        ("summer-2027", 60, False),
        ("tonight", 3, True),
    ]
    assert [t["tier"] for t in client.get("/api/events/summer-2027/tickets").json] == ["S_GA", "S_VIP"]
    assert client.get("/api/events/main/tickets").json == client.get("/api/tickets").json
    missing = client.get("/api/events/nope/tickets")
    assert (missing.status_code, missing.json["error"]["code"]) == (404, "EVENT_NOT_FOUND")


def test_an_events_window_is_kept_by_booking_holding_and_ordering(admin_app):
    client = admin_app.test_client()
    client.post("/api/admin/events", json=LATER, headers=ADMIN)
    client.post("/api/admin/events", json=NOW, headers=ADMIN)
    for path, body in (
        ("/api/tickets/book", {"userId": "ann", "tier": "S_GA", "quantity": 1}),
        ("/api/tickets/hold", {"userId": "ann", "tier": "S_VIP", "quantity": 1}),
        ("/api/orders", {"userId": "ann", "items": [{"tier": "T_GA", "quantity": 1}, {"tier": "S_GA", "quantity": 1}]}),
    ):
        refused = client.post(path, json=body)
        assert (refused.status_code, refused.json["error"]["code"]) == (409, "SALES_NOT_OPEN"), path
    assert client.get("/api/events/tonight/tickets").json[0]["availableQuantity"] == 3  # the order took nothing
    assert client.post("/api/tickets/book", json={"userId": "ann", "tier": "T_GA", "quantity": 3}).status_code == 201
    taken = client.post("/api/admin/events", json={**NOW, "eventId": "again"}, headers=ADMIN)
    assert (taken.status_code, taken.json["error"]["code"]) == (409, "TIER_ALREADY_EXISTS")
    again = client.post(
        "/api/admin/events", json={**LATER, "tiers": [{"tier": "X", "price": "1.00", "capacity": 1}]}, headers=ADMIN
    )
    assert (again.status_code, again.json["error"]["code"]) == (409, "EVENT_ALREADY_EXISTS")
    bad = client.post("/api/admin/events", json={**NOW, "eventId": "main"}, headers=ADMIN)
    assert (bad.status_code, bad.json["error"]["details"][0]["path"]) == (400, "eventId")
    assert client.post("/api/admin/events", json=NOW).status_code == 401
