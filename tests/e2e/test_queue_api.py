"""The waiting room over HTTP, on both stores: SQLite with the queue in process, and
PostgreSQL with the queue in Redis (under a key prefix of the test's own)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from scripts.harness.processes import wait_for
from tests.e2e.conftest import ADMIN_TOKEN, make_app
from tests.queue_stores import REDIS_URL, redis_client, redis_prefix
from web.api.waiting_room.queue import PLACE_EVERY_SECONDS

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ROOM = "/api/admin/waiting-room"


@pytest.fixture
def queue_client(store_env: dict[str, str]) -> Iterator[FlaskClient]:
    """The app with admin on; on PostgreSQL its queue is in Redis, as in production."""
    with redis_prefix() as prefix:
        queue = {"QUEUE_STORAGE_URI": "memory://"}
        if store_env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
            redis_client()
            queue = {"QUEUE_STORAGE_URI": REDIS_URL, "QUEUE_REDIS_PREFIX": prefix}
        app = make_app(store_env, ADMIN_TOKEN=ADMIN_TOKEN, QUEUE_TERMS_SECONDS=0, QUEUE_TERMS_KEEP_SECONDS=0, **queue)
        yield app.test_client()
        app.extensions["services"].close()


def book(client: FlaskClient, user: str = "ann", tier: str = "VIP", queue_pass: str | None = None, path: str = "book"):
    headers = {"Queue-Pass": queue_pass} if queue_pass else {}
    return client.post(f"/api/tickets/{path}", json={"userId": user, "tier": tier, "quantity": 1}, headers=headers)


def turn_on(client: FlaskClient, **terms) -> dict:
    response = client.post(ROOM, json={"tiers": ["VIP"], "rate": 1000, **terms}, headers=AUTH)
    assert response.status_code == 201, response.json
    return response.json


def admitted(client: FlaskClient, user: str) -> dict:
    """Join and follow the ticket at its suggested interval until admitted."""
    ticket = client.post("/api/queue", json={"userId": user}).json
    while ticket["state"] == "waiting":
        time.sleep(min(ticket["pollAfterSeconds"], 0.2))
        ticket = client.get(f"/api/queue/{ticket['ticketId']}").json
    assert ticket["state"] == "admitted", ticket
    return ticket


def code(response) -> tuple[int, str]:
    return response.status_code, response.json["error"]["code"]


def test_while_no_room_is_on_the_api_is_as_before(queue_client: FlaskClient):
    room = queue_client.get("/api/queue").json
    assert room["active"] is False and room["roomId"] is None and len(room) == 13  # every field, null
    assert code(queue_client.post("/api/queue", json={"userId": "ann"})) == (409, "WAITING_ROOM_OFF")
    assert book(queue_client).status_code == 201
    assert queue_client.get(ROOM, headers=AUTH).json == room


def test_with_the_room_on_booking_its_tiers_needs_a_pass_and_the_pass_works(queue_client: FlaskClient):
    turn_on(queue_client)
    for path in ("book", "hold"):
        refused = book(queue_client, path=path)
        assert code(refused) == (403, "QUEUE_PASS_REQUIRED") and "POST /api/queue" in refused.json["error"]["message"]
    assert book(queue_client, tier="GA").status_code == 201  # not behind the room
    ticket = admitted(queue_client, "ann")
    assert book(queue_client, queue_pass=ticket["queuePass"]).status_code == 201
    assert book(queue_client, queue_pass=ticket["queuePass"], path="hold").status_code == 201
    assert code(book(queue_client, user="bob", queue_pass=ticket["queuePass"])) == (403, "QUEUE_PASS_REQUIRED")
    assert code(book(queue_client, queue_pass=ticket["queuePass"] + "x")) == (403, "QUEUE_PASS_REQUIRED")
    tiers = {t["tier"]: t["availableQuantity"] for t in queue_client.get("/api/tickets").json}
    assert tiers == {"VIP": 3, "GA": 49}  # refused requests booked nothing


def test_joining_again_returns_the_same_ticket(queue_client: FlaskClient):
    turn_on(queue_client, rate=0)
    first = queue_client.post("/api/queue", json={"userId": "ann"})
    again = queue_client.post("/api/queue", json={"userId": "ann"})
    other = queue_client.post("/api/queue", json={"userId": "bob"})
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert first.json["ticketId"] == again.json["ticketId"] != other.json["ticketId"]
    assert (first.json["position"], other.json["position"]) == (1, 2)
    assert other.json["estimatedWaitSeconds"] is None and 18 <= other.json["pollAfterSeconds"] <= 22  # paused


def test_a_lapsed_pass_is_refused_and_its_user_rejoins_at_the_back(queue_client: FlaskClient):
    turn_on(queue_client, passSeconds=1)
    ticket = admitted(queue_client, "ann")
    wait_for(
        lambda: queue_client.get(f"/api/queue/{ticket['ticketId']}").json["state"] == "expired", 5, "the pass to lapse"
    )
    assert code(book(queue_client, queue_pass=ticket["queuePass"])) == (403, "QUEUE_PASS_EXPIRED")
    again = queue_client.post("/api/queue", json={"userId": "ann"})
    assert again.status_code == 201 and again.json["ticketId"] != ticket["ticketId"]


def test_joins_before_the_opening_wait_without_a_position(queue_client: FlaskClient):
    opens = datetime.now(UTC) + timedelta(hours=1)
    room = turn_on(queue_client, opensAt=opens.isoformat())
    assert room["opened"] is False
    ticket = queue_client.post("/api/queue", json={"userId": "ann"}).json
    assert (ticket["state"], ticket["position"]) == ("waiting", None)
    assert ticket["estimatedWaitSeconds"] >= 3590 and "random" in ticket["message"]


def test_buyers_waiting_learn_that_the_sale_sold_out(queue_client: FlaskClient):
    turn_on(queue_client, rate=0)
    waiting = queue_client.post("/api/queue", json={"userId": "ann"}).json
    queue_client.post(f"{ROOM}/close", headers=AUTH)
    for user in ("b1", "b2", "b3", "b4", "b5"):
        assert book(queue_client, user=user).status_code == 201  # the room is off: sell out directly
    turn_on(queue_client, rate=0)
    fresh = queue_client.post("/api/queue", json={"userId": "ann"}).json
    wait_for(lambda: queue_client.get(f"/api/queue/{fresh['ticketId']}").json["state"] == "soldOut", 5, "sold out")
    assert queue_client.get(f"/api/queue/{waiting['ticketId']}").json["state"] == "closed"


def test_the_ticket_streams_as_server_sent_events(queue_client: FlaskClient):
    turn_on(queue_client, rate=0)
    ticket = queue_client.post("/api/queue", json={"userId": "ann"}).json
    response = queue_client.get(f"/api/queue/{ticket['ticketId']}/stream")
    assert response.mimetype == "text/event-stream"
    first = next(line for line in response.get_data(as_text=True).splitlines() if line.startswith("data: "))
    assert json.loads(first.removeprefix("data: "))["ticketId"] == ticket["ticketId"]
    assert code(queue_client.get("/api/queue/nope/stream")) == (404, "QUEUE_TICKET_NOT_FOUND")


@pytest.fixture
def streaming_client(store_env: dict[str, str]) -> Iterator[FlaskClient]:
    """The same app (the queue in this process), its streams allowed to last 10 s."""
    app = make_app(
        store_env, ADMIN_TOKEN=ADMIN_TOKEN, QUEUE_TERMS_SECONDS=0, QUEUE_TERMS_KEEP_SECONDS=0, SSE_MAX_SECONDS=10
    )
    yield app.test_client()
    app.extensions["services"].close()


def follow(client: FlaskClient, ticket_id: str) -> tuple[list[tuple[float, dict]], threading.Thread]:
    """Read the ticket's stream in a thread: (when, by ``time.monotonic``, ticket) for each event."""
    seen: list[tuple[float, dict]] = []

    def read() -> None:
        response = client.get(f"/api/queue/{ticket_id}/stream", buffered=False)
        for chunk in response.response:
            for line in chunk.decode().splitlines():
                if line.startswith("data: "):
                    seen.append((time.monotonic(), json.loads(line.removeprefix("data: "))))

    thread = threading.Thread(target=read)
    thread.start()
    return seen, thread


@pytest.mark.parametrize("news", ["admitted", "soldOut"])
def test_a_waiting_tickets_stream_is_woken_by_its_news_and_ends(streaming_client: FlaskClient, news):
    turn_on(streaming_client, rate=0)
    ticket = streaming_client.post("/api/queue", json={"userId": "ann"}).json
    seen, reading = follow(streaming_client, ticket["ticketId"])
    wait_for(lambda: seen, 5, "the first event")
    time.sleep(0.5)
    happened = time.monotonic()
    if news == "admitted":
        streaming_client.post(f"{ROOM}/rate", json={"rate": 1000}, headers=AUTH)
    else:
        streaming_client.post("/api/admin/tiers/VIP/close", headers=AUTH)
    reading.join(timeout=5)
    assert not reading.is_alive(), "the stream goes on after its news"
    assert [event["state"] for _, event in seen] == ["waiting", news]
    assert seen[-1][0] - happened < PLACE_EVERY_SECONDS / 2  # woken by the news, not by the next update of place


def test_unknown_tickets_are_404(queue_client: FlaskClient):
    turn_on(queue_client)
    room_id = queue_client.get("/api/queue").json["roomId"]
    for ticket in ("nope", f"{room_id}.unknown", f"{room_id}", "x.y"):
        assert code(queue_client.get(f"/api/queue/{ticket}")) == (404, "QUEUE_TICKET_NOT_FOUND")


def test_the_admin_turns_the_room_on_changes_its_rate_closes_it_and_reads_its_trail(queue_client: FlaskClient):
    room = turn_on(queue_client, rate=5)
    assert code(queue_client.post(ROOM, json={"rate": 5}, headers=AUTH)) == (409, "WAITING_ROOM_ALREADY_ON")
    assert queue_client.post(f"{ROOM}/rate", json={"rate": 50, "autoRate": True}, headers=AUTH).json["autoRate"] is True
    admitted(queue_client, "ann")
    closed = queue_client.post(f"{ROOM}/close", headers=AUTH).json
    assert (closed["active"], closed["joined"], closed["admitted"], closed["passes"]) == (False, 1, 1, 1)
    assert code(queue_client.post(f"{ROOM}/close", headers=AUTH)) == (409, "WAITING_ROOM_OFF")
    assert code(queue_client.post(f"{ROOM}/rate", json={"rate": 1}, headers=AUTH)) == (409, "WAITING_ROOM_OFF")
    trail = queue_client.get(f"{ROOM}/{room['roomId']}/events", headers=AUTH).json
    trail = [e for e in trail if e["event"] != "AdmissionsCounted"]  # recorded every 10 s of the clock
    assert [e["event"] for e in trail] == ["Opened", "RateChanged", "Closed"]
    assert {k: v for k, v in trail[2]["details"].items() if v is not None} == {"joined": 1, "admitted": 1, "passes": 1}
    assert trail[0]["details"]["tiers"] == ["VIP"] and trail[0]["details"]["passSeconds"] == 300
    assert code(queue_client.get(f"{ROOM}/not-a-room/events", headers=AUTH)) == (404, "WAITING_ROOM_NOT_FOUND")
    assert code(queue_client.get(f"{ROOM}/{'0' * 8}-0000-0000-0000-{'0' * 12}/events", headers=AUTH)) == (
        404,
        "WAITING_ROOM_NOT_FOUND",
    )


@pytest.mark.parametrize(
    "terms",
    [
        {},
        {"rate": -1},
        {"rate": "fast"},
        {"rate": 1, "tiers": []},
        {"rate": 1, "tiers": ["vip"]},
        {"rate": 1, "opensAt": "2026-11-24T10:00:00"},
        {"rate": 1, "passSeconds": 0},
        {"rate": 1, "surprise": True},
        {"rate": float("1e9")},
        {"rate": "1"},
        {"rate": True},
        {"rate": 1, "autoRate": 0},
    ],
)
def test_bad_room_terms_are_400_and_turn_nothing_on(queue_client: FlaskClient, terms):
    assert code(queue_client.post(ROOM, json=terms, headers=AUTH)) == (400, "VALIDATION_ERROR")
    assert queue_client.get("/api/queue").json["active"] is False


def test_the_room_needs_the_admin_token(queue_client: FlaskClient):
    assert code(queue_client.post(ROOM, json={"rate": 1})) == (401, "UNAUTHORIZED")
    assert code(queue_client.get(ROOM)) == (401, "UNAUTHORIZED")


def test_a_queue_store_that_does_not_answer_is_503_on_the_queue_and_on_booking(store_env):
    app = make_app(store_env, QUEUE_STORAGE_URI="redis://127.0.0.1:1/0")  # nothing listens there
    client = app.test_client()
    for response in (client.get("/api/queue"), client.post("/api/queue", json={"userId": "ann"}), book(client)):
        assert code(response) == (503, "QUEUE_UNAVAILABLE") and response.headers["Retry-After"] == "1"
    app.extensions["services"].close()


def test_an_automatic_rate_starts_at_most_at_its_ceiling(queue_client: FlaskClient):
    assert turn_on(queue_client, rate=500, autoRate=True, maxRate=100)["rate"] == 100.0
    changed = queue_client.post(f"{ROOM}/rate", json={"rate": 700, "autoRate": True}, headers=AUTH).json
    assert changed["rate"] == 100.0
    assert queue_client.post(f"{ROOM}/rate", json={"rate": 700}, headers=AUTH).json["rate"] == 700.0  # fixed: as set
