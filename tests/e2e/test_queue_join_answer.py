"""``POST /api/queue`` answered before Flask (``web/http/queue_answer.py``), on both stores: the
same answers as the Flask view, which a request from another origin still reaches; every
request the view would refuse is refused as it refuses it; a join the room refuses is asked
of the room once; token mode's checks hold; the join is logged and counted."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient

from tests.e2e.conftest import ADMIN_TOKEN, make_app
from tests.e2e.test_queue_api import AUTH, ROOM, queue_client, turn_on  # noqa: F401 (a fixture)
from tests.e2e.test_user_tokens import RSA_KEY, TOKEN_SETTINGS, as_user, pem

OTHER_ORIGIN = {"Origin": "https://elsewhere.example"}  # not allowed: Flask answers, without CORS headers


@pytest.fixture
def flask_views(queue_client: FlaskClient) -> list[str]:  # noqa: F811
    """The paths of the requests that reached a Flask view."""
    seen: list[str] = []
    app: Flask = queue_client.application
    app.before_request_funcs.setdefault(None, []).append(lambda: seen.append(request.path))
    return seen


def comparable(response: Any) -> tuple:
    headers = {name: value for name, value in response.headers.items() if name != "X-Request-ID"}
    return response.status_code, response.json, headers


def join(client: FlaskClient, user: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
    return client.post("/api/queue", json={"userId": user}, headers=headers or {}, **kwargs)


def test_a_join_is_answered_before_flask_exactly_as_the_view_answers_it(queue_client, flask_views):  # noqa: F811
    turn_on(queue_client, rate=0)  # nobody is admitted: a place stays as it is between the two answers
    first = join(queue_client, "ann")
    assert first.status_code == 201 and first.json["state"] == "waiting" and first.json["userId"] == "ann"
    again, by_flask = join(queue_client, "ann"), join(queue_client, "ann", OTHER_ORIGIN)
    assert comparable(again) == comparable(by_flask)
    assert again.status_code == 200 and again.json["ticketId"] == first.json["ticketId"]
    new_by_flask = join(queue_client, "bob", OTHER_ORIGIN)
    assert (new_by_flask.status_code, set(new_by_flask.json)) == (201, set(first.json))
    assert comparable(first)[2] == comparable(new_by_flask)[2]  # headers
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["X-Request-ID"])
    assert join(queue_client, "cy", {"X-Request-ID": "mine-1"}).headers["X-Request-ID"] == "mine-1"
    assert flask_views.count("/api/queue") == 2  # the two from another origin


def test_a_user_id_is_the_same_user_composed_or_not(queue_client):  # noqa: F811
    turn_on(queue_client, rate=0)
    composed = join(queue_client, "Zo\u00eb")
    decomposed = join(queue_client, "Zoe\u0308")
    assert (composed.status_code, decomposed.status_code) == (201, 200)
    assert decomposed.json["ticketId"] == composed.json["ticketId"] and decomposed.json["userId"] == "Zo\u00eb"


REFUSED = [
    pytest.param({"json": {"userId": "a/b"}}, 400, "VALIDATION_ERROR", id="bad-user-id"),
    pytest.param({"json": {"userId": ""}}, 400, "VALIDATION_ERROR", id="empty-user-id"),
    pytest.param({"json": {"userId": 7}}, 400, "VALIDATION_ERROR", id="number"),
    pytest.param({"json": {"userId": "ann", "tier": "VIP"}}, 400, "VALIDATION_ERROR", id="unknown-field"),
    pytest.param({"json": {}}, 400, "VALIDATION_ERROR", id="no-user"),
    pytest.param({"json": ["ann"]}, 400, "VALIDATION_ERROR", id="a-list"),
    pytest.param(
        {"data": b'{"userId": "ann"', "content_type": "application/json"}, 400, "INVALID_JSON", id="broken-json"
    ),
    pytest.param(
        {"data": b'{"userId": "ann"}', "content_type": "text/plain"}, 415, "UNSUPPORTED_MEDIA_TYPE", id="not-json"
    ),
    pytest.param(
        {"data": b"[" * 100_000, "content_type": "application/json"}, 413, "REQUEST_ENTITY_TOO_LARGE", id="too-large"
    ),
]


@pytest.mark.parametrize(("request_kwargs", "status", "code"), REFUSED)
def test_what_the_view_refuses_is_refused_as_it_refuses_it(queue_client, request_kwargs, status, code):  # noqa: F811
    turn_on(queue_client, rate=0)
    answers = [queue_client.post("/api/queue", headers=h, **request_kwargs) for h in ({}, OTHER_ORIGIN)]
    assert [(a.status_code, a.json["error"]["code"]) for a in answers] == [(status, code)] * 2
    assert answers[0].json == answers[1].json
    assert queue_client.get("/api/queue").json["joined"] == 0


def test_a_join_the_room_refuses_is_asked_of_the_room_once(queue_client, monkeypatch):  # noqa: F811
    rooms = queue_client.application.extensions["services"].rooms
    asked: list[str] = []
    join_once = rooms.join
    monkeypatch.setattr(rooms, "join", lambda user: asked.append(user) or join_once(user))
    refused = join(queue_client, "ann")  # no room is on
    assert (refused.status_code, refused.json["error"]["code"]) == (409, "WAITING_ROOM_OFF")
    assert refused.headers["X-Content-Type-Options"] == "nosniff"
    assert asked == ["ann"]


def test_joins_are_logged_and_counted(queue_client, caplog):  # noqa: F811
    turn_on(queue_client, rate=0)

    def counted(status: str) -> float:
        text = queue_client.get("/metrics").get_data(as_text=True)
        found = re.search(rf'http_requests_total{{method="POST",route="/api/queue",status="{status}"}} (\S+)', text)
        return float(found.group(1)) if found else 0.0

    before = counted("201"), counted("200")
    with caplog.at_level(logging.INFO, logger="ledger"):
        join(queue_client, "ann", {"X-Request-ID": "join-1"})
        join(queue_client, "ann")
    assert (counted("201"), counted("200")) == (before[0] + 1, before[1] + 1)
    lines = [r for r in caplog.records if getattr(r, "path", None) == "/api/queue"]
    assert [(r.method, r.status, r.request_id) for r in lines][0] == ("POST", 201, "join-1")
    assert len(lines) == 2 and all(r.duration_ms >= 0 for r in lines)


@pytest.fixture
def token_client(store_env: dict[str, str]) -> Iterator[FlaskClient]:
    settings = {
        **TOKEN_SETTINGS,
        "USER_TOKEN_KEY": pem(RSA_KEY),
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "QUEUE_TERMS_SECONDS": 0,
        "QUEUE_TERMS_KEEP_SECONDS": 0,
    }
    app = make_app(store_env, **settings)
    yield app.test_client()
    app.extensions["services"].close()


def test_in_token_mode_a_join_needs_the_users_own_token(token_client):
    response = token_client.post(ROOM, json={"tiers": ["GA"], "rate": 0}, headers=AUTH)
    assert response.status_code == 201, response.json
    assert join(token_client, "ann", as_user("ann")).status_code == 201
    forbidden = join(token_client, "ann", as_user("bob"))
    assert (forbidden.status_code, forbidden.json["error"]["code"]) == (403, "FORBIDDEN")
    missing = join(token_client, "ann")
    assert (missing.status_code, missing.json["error"]["code"]) == (401, "UNAUTHORIZED")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert token_client.get("/api/queue").json["joined"] == 1
