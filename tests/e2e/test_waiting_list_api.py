"""The waiting list over HTTP, on both stores: join, the place, an offer accepted, declined
and lapsed (the expiry process, a moved clock), leave, and every error of each endpoint."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.conftest import book
from tests.e2e.test_api import error_code


def join(client, user: str, quantity: int = 1, tier: str = "VIP", key: str | None = None):
    headers = {"Idempotency-Key": key} if key else {}
    body = {"userId": user, "tier": tier, "quantity": quantity}
    return client.post("/api/tickets/waiting-list", json=body, headers=headers)


def place(client, user: str, tier: str = "VIP"):
    return client.get(f"/api/users/{user}/waiting-list/{tier}")


def leave(client, user: str, tier: str = "VIP"):
    return client.post("/api/tickets/waiting-list/leave", json={"userId": user, "tier": tier})


def sell_out(client) -> list[str]:
    return [book(client, user=f"b{n}").json["bookingId"] for n in range(5)]  # VIP has 5


def cancel(client, booking_id: str, user: str):
    return client.post(f"/api/bookings/{booking_id}/cancel", json={"userId": user})


def test_a_returned_ticket_is_offered_in_turn_and_accepted_by_confirming_its_hold(client):
    bookings = sell_out(client)
    ann = join(client, "ann")
    assert ann.status_code == 201
    assert {k: ann.json[k] for k in ("userId", "tier", "quantity", "status", "position", "waiting", "offer")} == {
        "userId": "ann", "tier": "VIP", "quantity": 1, "status": "waiting", "position": 1, "waiting": 1,
        "offer": None,
    }  # fmt: skip
    assert join(client, "bob").json["position"] == 2

    assert cancel(client, bookings[0], "b0").status_code == 200
    assert error_code(book(client, user="public")) == "INSUFFICIENT_TICKETS"
    offered = place(client, "ann").json
    assert (offered["status"], offered["position"]) == ("offered", None)
    hold_id = offered["offer"]["holdId"]
    assert client.get(f"/api/bookings/{hold_id}").json["status"] == "held"
    assert place(client, "bob").json["position"] == 1

    confirmed = client.post(f"/api/holds/{hold_id}/confirm", json={"userId": "ann"})
    assert (confirmed.status_code, confirmed.json["status"]) == (200, "confirmed")
    assert error_code(place(client, "ann")) == "NOT_ON_WAITING_LIST"


def test_an_offer_declined_or_lapsed_goes_to_the_next_and_then_back_on_sale(app, client):
    bookings = sell_out(client)
    join(client, "ann")
    join(client, "bob")
    cancel(client, bookings[0], "b0")
    services = app.extensions["services"]
    services.projector.catch_up()
    real = services.ledger.clock
    services.ledger.clock = lambda: real() + timedelta(days=1, seconds=1)
    assert services.expiry.expire_due() == 1  # ann's offer lapsed
    bob = place(client, "bob").json
    assert bob["status"] == "offered"
    released = client.post(f"/api/holds/{bob['offer']['holdId']}/release", json={"userId": "bob"})
    assert released.status_code == 200
    assert book(client, user="public").status_code == 201  # nobody waits: back on sale


def test_leaving_gives_the_kept_tickets_back(client):
    sell_out(client)
    left = leave(client, "ann")
    assert error_code(left) == "NOT_ON_WAITING_LIST"
    join(client, "ann", 2)
    left = leave(client, "ann")
    assert (left.status_code, left.json["status"], left.json["position"]) == (200, "left", None)
    assert error_code(place(client, "ann")) == "NOT_ON_WAITING_LIST"


def test_a_join_retried_with_its_key_is_the_same_place(client):
    sell_out(client)
    first = join(client, "ann", key="join-1")
    again = join(client, "ann", key="join-1")
    assert (first.status_code, again.status_code, again.json["entryId"]) == (201, 201, first.json["entryId"])
    assert error_code(join(client, "ann", 2, key="join-1")) == "IDEMPOTENCY_KEY_REUSED"
    assert error_code(join(client, "ann")) == "ALREADY_WAITING"


def test_the_refusals_of_each_endpoint(client):
    assert error_code(join(client, "ann")) == "TIER_NOT_SOLD_OUT"
    assert error_code(join(client, "ann", tier="NOPE")) == "TICKET_NOT_FOUND"
    assert error_code(join(client, "ann", 0)) == "VALIDATION_ERROR"
    assert error_code(client.post("/api/tickets/waiting-list", json={"userId": "ann"})) == "VALIDATION_ERROR"
    assert error_code(leave(client, "ann", tier="NOPE")) == "TICKET_NOT_FOUND"
    assert error_code(client.post("/api/tickets/waiting-list/leave", json={})) == "VALIDATION_ERROR"
    assert error_code(place(client, "ann", tier="NOPE")) == "TICKET_NOT_FOUND"
    assert error_code(place(client, "ann")) == "NOT_ON_WAITING_LIST"


def test_the_dashboard_shows_each_lists_length(admin_app):
    client = admin_app.test_client()
    sell_out(client)
    join(client, "ann", 2)
    join(client, "bob")
    admin_app.extensions["services"].projector.catch_up()
    overview = client.get("/api/admin/overview", headers={"Authorization": "Bearer e2e-admin-token"}).json
    assert overview["waitingLists"] == [{"tier": "VIP", "waiting": 2, "waitingTickets": 3, "offers": 0}]


def test_an_events_offers_last_the_time_it_sets(admin_app):
    client = admin_app.test_client()
    admin = {"Authorization": "Bearer e2e-admin-token"}
    event = {"eventId": "gig", "name": "Gig", "tiers": [{"tier": "GIG", "price": "5.00", "capacity": 1}]}
    too_short = client.post("/api/admin/events", json={**event, "waitingListOfferSeconds": 59}, headers=admin)
    assert error_code(too_short) == "VALIDATION_ERROR"
    assert (
        client.post("/api/admin/events", json={**event, "waitingListOfferSeconds": 900}, headers=admin).status_code
        == 201
    )
    first = book(client, user="x", tier="GIG").json["bookingId"]
    join(client, "ann", tier="GIG")
    cancel(client, first, "x")
    offer = place(client, "ann", "GIG").json["offer"]
    hold = client.get(f"/api/bookings/{offer['holdId']}").json
    assert hold["expiresAt"] == offer["expiresAt"]
    services = admin_app.extensions["services"]
    assert services.ledger.find_tier("GIG").seconds_to_accept == 900
