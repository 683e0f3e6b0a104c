"""``/api/feed`` and ``/api/admin/webhooks`` through the app: tokens, paging, long-polling,
replays that are identical, and the webhook registry with its errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.e2e.conftest import ADMIN_TOKEN, book, make_app

FEED_TOKEN = "e2e-feed-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
READER = {"Authorization": f"Bearer {FEED_TOKEN}"}


@pytest.fixture
def app(store_env: dict[str, str]) -> Iterator[Flask]:
    app = make_app(store_env, ADMIN_TOKEN=ADMIN_TOKEN, FEED_TOKEN=FEED_TOKEN, FEED_MAX_WAIT_SECONDS=5)
    yield app
    app.extensions["services"].close()


def feed(client: FlaskClient, **query) -> dict:
    response = client.get("/api/feed", query_string=query, headers=READER)
    assert response.status_code == 200, response.json
    return response.json


def test_the_feed_needs_the_admin_or_the_feed_token_and_is_absent_without_either(store_env):
    app = make_app(store_env)
    try:
        assert app.test_client().get("/api/feed", headers=READER).status_code == 404
    finally:
        app.extensions["services"].close()
    app = make_app(store_env, FEED_TOKEN=FEED_TOKEN)
    try:
        reader = app.test_client()
        assert reader.get("/api/feed", headers=READER).status_code == 200
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {FEED_TOKEN}"}, ADMIN):
            refused = reader.get("/api/feed", headers=headers)
            assert refused.status_code == 401 and refused.json["error"]["code"] == "UNAUTHORIZED"
            assert refused.headers["WWW-Authenticate"].lower().startswith("bearer")
    finally:
        app.extensions["services"].close()


def test_the_feed_pages_in_order_and_says_where_to_go_on(client):
    for user in ("u1", "u2", "u3"):
        assert book(client, user=user, tier="GA").status_code == 201
    everything = feed(client)["items"]
    assert [e["type"] for e in everything] == ["tier.created"] * 2 + ["booking.confirmed"] * 3
    assert [e["userId"] for e in everything[2:]] == ["u1", "u2", "u3"]
    first = feed(client, limit=2)
    assert first["items"] == everything[:2] and first["nextAfter"] == everything[1]["position"]
    rest = feed(client, after=first["nextAfter"])
    assert rest["items"] == everything[2:] and rest["nextAfter"] == everything[-1]["position"]
    assert feed(client, after=rest["nextAfter"]) == {"items": [], "nextAfter": rest["nextAfter"]}


def test_the_whole_history_reads_the_same_twice_byte_for_byte(client):
    book(client, user="u1")
    hold = client.post("/api/tickets/hold", json={"userId": "u2", "tier": "VIP", "quantity": 4}).json
    client.post(f"/api/holds/{hold['holdId']}/confirm", json={"userId": "u2"})

    def read_all() -> list[bytes]:
        pages, after = [], 0
        while True:
            response = client.get("/api/feed", query_string={"after": after, "limit": 2}, headers=READER)
            if not response.json["items"]:
                return pages
            pages.append(response.data)
            after = response.json["nextAfter"]

    first = read_all()
    assert first == read_all() and len(first) == 3
    assert b'"type":"tier.sold_out"' in b"".join(first)


def test_a_long_poll_answers_as_soon_as_an_event_arrives(client, app):
    after = feed(client)["nextAfter"]
    answers: list = []
    waiting = threading.Thread(
        target=lambda: answers.append((feed(app.test_client(), after=after, wait=5), time.monotonic()))
    )
    waiting.start()
    time.sleep(0.5)
    booked_at = time.monotonic()
    book(client, user="late")
    waiting.join(timeout=10)
    ((page, answered_at),) = answers
    assert [e["userId"] for e in page["items"]] == ["late"]
    assert answered_at - booked_at < 2.0


def test_a_long_poll_with_nothing_new_ends_after_its_wait_and_a_longer_wait_is_refused(client):
    after = feed(client)["nextAfter"]
    started = time.monotonic()
    assert feed(client, after=after, wait=1) == {"items": [], "nextAfter": after}
    assert 1.0 <= time.monotonic() - started < 3.0
    refused = client.get("/api/feed", query_string={"wait": 6}, headers=READER)
    assert refused.status_code == 400 and refused.json["error"]["details"][0]["path"] == "wait"


def test_an_admin_registers_pauses_resumes_and_replays_a_webhook(client):
    created = client.post(
        "/api/admin/webhooks",
        headers=ADMIN,
        json={"url": "https://crm.example.com/hooks", "eventTypes": ["booking.confirmed"], "description": "CRM"},
    )
    assert created.status_code == 201
    endpoint = created.json
    assert endpoint["secret"].startswith("whsec_") and endpoint["status"] == "active"
    assert endpoint["eventTypes"] == ["booking.confirmed"] and endpoint["position"] == feed(client)["nextAfter"]
    endpoint_id = endpoint["endpointId"]
    listed = client.get("/api/admin/webhooks", headers=ADMIN).json
    assert [e["endpointId"] for e in listed] == [endpoint_id] and "secret" not in listed[0]
    paused = client.post(f"/api/admin/webhooks/{endpoint_id}/pause", headers=ADMIN).json
    assert (paused["status"], paused["statusReason"]) == ("paused", "paused by an admin")
    resumed = client.post(f"/api/admin/webhooks/{endpoint_id}/resume", headers=ADMIN).json
    assert (resumed["status"], resumed["statusReason"]) == ("active", None)
    replayed = client.post(f"/api/admin/webhooks/{endpoint_id}/replay", headers=ADMIN, json={"after": 0}).json
    assert replayed["position"] == 0
    assert client.get(f"/api/admin/webhooks/{endpoint_id}", headers=ADMIN).json == replayed
    assert client.get(f"/api/admin/webhooks/{endpoint_id}/deliveries", headers=ADMIN).json == []


def test_a_given_secret_is_kept_and_every_type_is_the_default(client):
    created = client.post(
        "/api/admin/webhooks", headers=ADMIN, json={"url": "http://127.0.0.1:9/x", "secret": "my-own-secret-123456"}
    ).json
    assert created["secret"] == "my-own-secret-123456" and created["eventTypes"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com/x"},
        {"url": "file:///etc/passwd"},
        {"url": "https://"},
        {"url": "http://example.com:65536/"},
        {"url": "https://example.com/" + "a" * 2048},
        {"url": "https://example.com", "eventTypes": ["booking.refunded"]},
        {"url": "https://example.com", "eventTypes": []},
        {"url": "https://example.com", "secret": "short"},
        {"url": "https://example.com", "description": "a\nb"},
        {"url": "https://example.com", "extra": 1},
        {},
    ],
)
def test_a_bad_endpoint_is_400_and_registers_nothing(client, body):
    response = client.post("/api/admin/webhooks", headers=ADMIN, json=body)
    assert response.status_code == 400 and response.json["error"]["code"] == "VALIDATION_ERROR"
    assert client.get("/api/admin/webhooks", headers=ADMIN).json == []


@pytest.mark.parametrize("method, path", [("get", ""), ("post", "/pause"), ("post", "/resume"), ("get", "/deliveries")])
def test_an_unknown_endpoint_is_404(client, method, path):
    response = getattr(client, method)(f"/api/admin/webhooks/we_nope{path}", headers=ADMIN)
    assert response.status_code == 404 and response.json["error"]["code"] == "WEBHOOK_NOT_FOUND"


def test_webhooks_need_the_admin_token_not_the_feed_token(client):
    for headers in ({}, READER):
        response = client.post("/api/admin/webhooks", headers=headers, json={"url": "https://example.com"})
        assert response.status_code == 401
