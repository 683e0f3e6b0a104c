"""Every endpoint and every error, through Flask's test client, on both stores."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from eventsourcing.persistence import OperationalError

from tests.e2e.conftest import book
from web import create_app


def error_code(response) -> str:
    assert set(response.json) == {"error"} and set(response.json["error"]) == {"code", "message", "details"}
    return response.json["error"]["code"]


def test_the_tickets_list_shows_each_demo_tier(client):
    response = client.get("/api/tickets")
    assert response.status_code == 200
    assert response.json == [
        {"tier": "GA", "price": "10.00", "currency": "USD", "capacity": 50, "availableQuantity": 50, "onSale": True},
        {"tier": "VIP", "price": "100.00", "currency": "USD", "capacity": 5, "availableQuantity": 5, "onSale": True},
    ]


def test_booking_answers_with_the_remaining_quantity(client):
    response = book(client, quantity=2)
    assert response.status_code == 201
    body = response.json
    assert uuid.UUID(body.pop("bookingId"))
    assert body == {"tier": "VIP", "bookedQuantity": 2, "remainingQuantity": 3, "status": "confirmed"}
    assert client.get("/api/tickets").json[1]["availableQuantity"] == 3


def test_a_booking_can_be_read_back_and_listed_newest_first(client):
    first = book(client, tier="VIP").json["bookingId"]
    second = book(client, tier="GA", quantity=3).json["bookingId"]
    booking = client.get(f"/api/bookings/{first}").json
    assert {k: booking[k] for k in ("bookingId", "userId", "tier", "quantity", "status")} == {
        "bookingId": first,
        "userId": "u1",
        "tier": "VIP",
        "quantity": 1,
        "status": "confirmed",
    }
    assert booking["createdAt"] == booking["updatedAt"]
    assert [b["bookingId"] for b in client.get("/api/users/u1/bookings").json] == [second, first]
    assert client.get("/api/users/nobody/bookings").json == []
    assert client.get("/api/users/a%00b/bookings").json == []


def test_cancelling_returns_the_booking_and_the_tickets(client):
    booking_id = book(client, quantity=5).json["bookingId"]
    response = client.post(f"/api/bookings/{booking_id}/cancel", json={"userId": "u1"})
    assert response.status_code == 200
    assert (response.json["bookingId"], response.json["status"]) == (booking_id, "cancelled")
    assert client.get("/api/tickets").json[1]["availableQuantity"] == 5
    assert client.get(f"/api/bookings/{booking_id}").json["status"] == "cancelled"


def test_someone_elses_booking_is_not_found_to_cancel(client):
    booking_id = book(client).json["bookingId"]
    response = client.post(f"/api/bookings/{booking_id}/cancel", json={"userId": "u2"})
    assert (response.status_code, error_code(response)) == (404, "BOOKING_NOT_FOUND")


def test_cancelling_twice_is_a_conflict(client):
    booking_id = book(client).json["bookingId"]
    client.post(f"/api/bookings/{booking_id}/cancel", json={"userId": "u1"})
    response = client.post(f"/api/bookings/{booking_id}/cancel", json={"userId": "u1"})
    assert (response.status_code, error_code(response)) == (409, "BOOKING_ALREADY_CANCELLED")
    assert client.get("/api/tickets").json[1]["availableQuantity"] == 5


def test_booking_more_than_available_is_refused_and_records_nothing(client, app):
    position = app.extensions["services"].ledger.recorder.max_notification_id()
    response = book(client, quantity=6)
    assert (response.status_code, error_code(response)) == (422, "INSUFFICIENT_TICKETS")
    assert response.json["error"]["details"] == [{"path": "quantity", "message": "5 available"}]
    assert app.extensions["services"].ledger.recorder.max_notification_id() == position


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/bookings/6b0f7c57-0000-4000-8000-000000000000", "BOOKING_NOT_FOUND"),
        ("/api/bookings/not-a-uuid", "BOOKING_NOT_FOUND"),
        ("/api/nothing-here", "NOT_FOUND"),
    ],
)
def test_unknown_things_are_404_in_json(client, path, code):
    response = client.get(path)
    assert (response.status_code, error_code(response)) == (404, code)


def test_an_unknown_tier_is_not_found(client):
    response = book(client, tier="NOPE")
    assert (response.status_code, error_code(response)) == (404, "TICKET_NOT_FOUND")


def test_cancelling_an_unknown_booking_is_not_found(client):
    response = client.post(f"/api/bookings/{uuid.uuid4()}/cancel", json={"userId": "u1"})
    assert (response.status_code, error_code(response)) == (404, "BOOKING_NOT_FOUND")


def test_a_wrong_method_is_405_in_json(client):
    response = client.delete("/api/tickets")
    assert (response.status_code, error_code(response)) == (405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]


VALID = {"userId": "u1", "tier": "VIP", "quantity": 1}


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"tier": "VIP", "quantity": 1}, "userId"),
        ({**VALID, "quantity": None}, "quantity"),
        ({**VALID, "extra": 1}, "extra"),
        ({**VALID, "quantity": "1"}, "quantity"),
        ({**VALID, "quantity": 1.5}, "quantity"),
        ({**VALID, "quantity": True}, "quantity"),
        ({**VALID, "quantity": 0}, "quantity"),
        ({**VALID, "quantity": 11}, "quantity"),
        ({**VALID, "quantity": 10**40}, "quantity"),
        ({**VALID, "userId": ""}, "userId"),
        ({**VALID, "userId": "   "}, "userId"),
        ({**VALID, "userId": "u" * 65}, "userId"),
        ({**VALID, "userId": 7}, "userId"),
        ({**VALID, "userId": "a\x00b"}, "userId"),  # PostgreSQL text cannot hold NUL
        ({**VALID, "userId": "a\n"}, "userId"),
        ({**VALID, "userId": "a\ud800"}, "userId"),  # a lone surrogate is not UTF-8
        ({**VALID, "tier": "T" * 33}, "tier"),
        ([VALID], ""),
        ("VIP", ""),
    ],
)
def test_invalid_bookings_are_400_with_the_field_named(client, body, path):
    response = client.post("/api/tickets/book", json=body)
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")
    assert path in [d["path"] for d in response.json["error"]["details"]]


def test_malformed_json_is_400(client):
    response = client.post("/api/tickets/book", data="{oops", content_type="application/json")
    assert (response.status_code, error_code(response)) == (400, "INVALID_JSON")


def test_a_body_that_is_not_json_is_415(client):
    response = client.post("/api/tickets/book", data="userId=u1", content_type="application/x-www-form-urlencoded")
    assert (response.status_code, error_code(response)) == (415, "UNSUPPORTED_MEDIA_TYPE")


def test_a_cancel_needs_a_user_id(client):
    booking_id = book(client).json["bookingId"]
    response = client.post(f"/api/bookings/{booking_id}/cancel", json={})
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")


def test_the_per_booking_maximum_is_a_setting(store_env):
    app = create_app({"LEDGER_ENV": store_env, "DEMO_TIERS": "VIP:1.00:9", "MAX_TICKETS_PER_BOOKING": 3})
    client = app.test_client()
    assert book(client, quantity=4).status_code == 400
    assert book(client, quantity=3).status_code == 201
    app.extensions["services"].close()


def test_demo_tiers_are_created_once_and_empty_means_none(store_env, client):
    book(client, quantity=2)
    again = create_app({"LEDGER_ENV": store_env, "DEMO_TIERS": "VIP:999.00:1", "PROJECT_IN_PROCESS": "yes"})
    vip = again.test_client().get("/api/tickets").json[1]
    assert (vip["price"], vip["availableQuantity"]) == ("100.00", 3)
    again.extensions["services"].close()


def test_an_empty_demo_tiers_setting_creates_nothing(store_env):
    app = create_app({"LEDGER_ENV": store_env, "DEMO_TIERS": ""})
    assert app.test_client().get("/api/tickets").json == []
    app.extensions["services"].close()


def test_health_and_readiness(client):
    assert client.get("/health").json == {"status": "ok"}
    ready = client.get("/ready")
    assert (ready.status_code, ready.json) == (
        200,
        {"status": "ready", "projectionLag": 0, "projectionLagSeconds": 0.0},
    )


def test_not_ready_when_the_store_does_not_answer(client, app, monkeypatch):
    def down():
        raise OperationalError("connection refused")

    monkeypatch.setattr(app.extensions["services"].ledger.recorder, "max_notification_id", down)
    response = client.get("/ready")
    assert (response.status_code, error_code(response)) == (503, "STORE_UNAVAILABLE")
    assert client.get("/health").status_code == 200


def test_a_tier_can_be_read_now_and_as_it_was_at_a_version_or_time(client):
    book(client, quantity=2)
    now = client.get("/api/tiers/VIP").json
    assert (now["version"], now["sold"], now["availableQuantity"], now["price"]) == (2, 2, 3, "100.00")
    then = client.get("/api/tiers/VIP?atVersion=1").json
    assert (then["version"], then["sold"]) == (1, 0)
    at_time = client.get(f"/api/tiers/VIP?atTime={then['asOf'].replace('+00:00', 'Z')}").json
    assert at_time["version"] == 1


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("?atVersion=9", 404, "VERSION_NOT_FOUND"),
        ("?atTime=2000-01-01T00:00:00Z", 404, "VERSION_NOT_FOUND"),
        ("?atVersion=0", 400, "VALIDATION_ERROR"),
        ("?atVersion=x", 400, "VALIDATION_ERROR"),
        ("?atTime=yesterday", 400, "VALIDATION_ERROR"),
        ("?atVersion=1&atTime=2030-01-01T00:00:00Z", 400, "VALIDATION_ERROR"),
    ],
)
def test_a_bad_point_in_time_is_a_clear_error(client, query, status, code):
    response = client.get(f"/api/tiers/VIP{query}")
    assert (response.status_code, error_code(response)) == (status, code)


@pytest.mark.parametrize("number", ["1_0", " 2", "2 ", "+1", "\u0661", "\uff11", "0x1"])
@pytest.mark.parametrize(
    "query", ["/api/tiers/VIP?atVersion=", "/api/tiers/VIP/history?after=", "/api/tiers/VIP/history?limit="]
)
def test_a_version_or_count_in_a_query_is_plain_ascii_digits(client, query, number):
    """What the document's ``integer`` allows; Python's ``int()`` would take each of these."""
    response = client.get(query + quote(number))
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")
    assert response.json["error"]["details"][0]["message"] == "Not a valid integer."


def test_the_history_is_paged_with_the_figures_after_each_event(client):
    for _ in range(3):
        book(client)
    first = client.get("/api/tiers/VIP/history?limit=2").json
    assert [(i["version"], i["event"], i["availableQuantity"]) for i in first["items"]] == [
        (1, "Created", 5),
        (2, "TicketsBooked", 4),
    ]
    assert "userId" not in first["items"][1] and first["nextAfter"] == 2  # the admin's history has it
    rest = client.get(f"/api/tiers/VIP/history?after={first['nextAfter']}&limit=2").json
    assert [i["availableQuantity"] for i in rest["items"]] == [3, 2] and rest["nextAfter"] == 4
    assert client.get("/api/tiers/VIP/history?after=4").json == {"tier": "VIP", "items": [], "nextAfter": None}
    response = client.get("/api/tiers/NOPE/history")
    assert (response.status_code, error_code(response)) == (404, "TICKET_NOT_FOUND")
    assert client.get("/api/tiers/VIP/history?limit=1001").status_code == 400


def test_an_idempotency_key_replays_the_booking_and_refuses_another_body(client):
    headers = {"Idempotency-Key": "order-42"}
    first = client.post("/api/tickets/book", json=VALID, headers=headers)
    again = client.post("/api/tickets/book", json=VALID, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json["bookingId"] == first.json["bookingId"]
    assert client.get("/api/tickets").json[1]["availableQuantity"] == 4
    other = client.post("/api/tickets/book", json={**VALID, "quantity": 2}, headers=headers)
    assert (other.status_code, error_code(other)) == (422, "IDEMPOTENCY_KEY_REUSED")


@pytest.mark.parametrize("key", ["", "k" * 256, "tab\there"])
def test_a_malformed_idempotency_key_is_400(client, key):
    response = client.post("/api/tickets/book", json=VALID, headers={"Idempotency-Key": key})
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")
    assert response.json["error"]["details"][0]["path"] == "Idempotency-Key"


def test_every_response_carries_security_headers(client):
    for response in (client.get("/api/tickets"), client.get("/nothing"), book(client, quantity=99)):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_a_body_over_the_size_limit_is_413_and_books_nothing(client, app):
    position = app.extensions["services"].ledger.recorder.max_notification_id()
    response = client.post(
        "/api/tickets/book", data='{"userId": "' + "u" * 20_000 + '"}', content_type="application/json"
    )
    assert (response.status_code, error_code(response)) == (413, "REQUEST_ENTITY_TOO_LARGE")
    assert app.extensions["services"].ledger.recorder.max_notification_id() == position


def test_cors_answers_only_allowed_origins(store_env):
    app = create_app({"LEDGER_ENV": store_env, "DEMO_TIERS": "", "CORS_ORIGINS": "https://shop.example"})
    client = app.test_client()
    allowed = client.get("/api/tickets", headers={"Origin": "https://shop.example"})
    other = client.get("/api/tickets", headers={"Origin": "https://evil.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "Access-Control-Allow-Origin" not in other.headers
    app.extensions["services"].close()


def test_swagger_ui_is_served_from_the_service_itself(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in page.get_data(as_text=True)
    assert "script-src 'self' 'unsafe-inline'" in page.headers["Content-Security-Policy"]
    script = client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.data
    assert client.get("/docs/assets/../../setup.py").status_code == 404
