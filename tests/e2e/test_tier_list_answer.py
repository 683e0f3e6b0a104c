"""``GET /api/tickets`` from the process's copy, and its stream opened, before Flask: the
same answers as the Flask views, with an ETag, ``304 Not Modified`` while unchanged, a
fresh list after this process's own booking, and counted in the metrics."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from eventsourcing.persistence import OperationalError

from scripts.harness.processes import call, gunicorn
from tests.e2e.conftest import book

OTHER_ORIGIN = {"Origin": "https://elsewhere.example"}  # not allowed: Flask answers, without CORS headers


def comparable(response) -> tuple:
    headers = {name: value for name, value in response.headers.items() if name != "X-Request-ID"}
    return response.status_code, response.data, headers


def test_the_copy_answers_exactly_as_the_flask_view(client):
    fast, flask = client.get("/api/tickets"), client.get("/api/tickets", headers=OTHER_ORIGIN)
    assert comparable(fast) == comparable(flask)
    assert fast.json[0] == {
        "tier": "GA",
        "price": "10.00",
        "currency": "USD",
        "capacity": 50,
        "availableQuantity": 50,
        "onSale": True,
    }
    assert re.fullmatch(r'"[0-9a-f]{24}"', fast.headers["ETag"])
    assert fast.headers["Cache-Control"] == "public, max-age=0, s-maxage=1"


def test_the_stream_opens_exactly_as_the_flask_view(client):
    """A stream from the test client ends after the app's ``SSE_MAX_SECONDS`` (0.1 s): the
    list with the ``retry`` hint, then nothing new."""
    fast, flask = client.get("/api/tickets/stream"), client.get("/api/tickets/stream", headers=OTHER_ORIGIN)
    assert comparable(fast) == comparable(flask)
    assert fast.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert fast.data == b"retry: 1000\n\ndata: " + client.get("/api/tickets").data + b"\n\n"


@pytest.mark.parametrize("headers", [{}, OTHER_ORIGIN], ids=["copy", "flask"])
def test_an_unchanged_list_is_304_with_no_body_and_a_changed_one_200(client, headers):
    etag = client.get("/api/tickets", headers=headers).headers["ETag"]
    unchanged = client.get("/api/tickets", headers={**headers, "If-None-Match": etag})
    assert (unchanged.status_code, unchanged.data, unchanged.headers["ETag"]) == (304, b"", etag)
    assert unchanged.headers["X-Content-Type-Options"] == "nosniff" and unchanged.headers["X-Request-ID"]
    book(client, tier="GA", quantity=3)  # projected in this process at once (SQLite, and PROJECT_IN_PROCESS here)
    changed = client.get("/api/tickets", headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert [t["availableQuantity"] for t in changed.json if t["tier"] == "GA"] == [47]


def test_the_copys_answers_are_counted_in_the_request_metrics(client):
    def counted(status: str) -> float:
        text = client.get("/metrics").get_data(as_text=True)
        found = re.search(rf'http_requests_total{{method="GET",route="/api/tickets",status="{status}"}} (\S+)', text)
        return float(found.group(1)) if found else 0.0

    def streams() -> float:
        text = client.get("/metrics").get_data(as_text=True)
        found = re.search(r'http_requests_total{method="GET",route="/api/tickets/stream",status="200"} (\S+)', text)
        return float(found.group(1)) if found else 0.0

    before = counted("200"), counted("304"), streams()
    etag = client.get("/api/tickets").headers["ETag"]
    client.get("/api/tickets", headers={"If-None-Match": etag})
    client.get("/api/tickets/stream")
    assert (counted("200"), counted("304"), streams()) == (before[0] + 1, before[1] + 1, before[2] + 1)


@pytest.mark.slow
def test_the_real_server_answers_304_until_a_booking_changes_the_list(store_env, tmp_path):
    # One worker: the one that booked has dropped its copy (another would keep its own up to 0.2 s).
    env = {
        **store_env,
        "DEMO_TIERS": "GA:10.00:100",
        "BOOKING_RATE_LIMIT": "",
        "PROJECT_IN_PROCESS": "yes",
        "GUNICORN_WORKERS": "1",
    }
    with gunicorn(env, open(tmp_path / "gunicorn.log", "w")) as (base, _):
        first = get(f"{base}/api/tickets")
        etag = first[2]["ETag"]
        again = get(f"{base}/api/tickets", etag)
        call(f"{base}/api/tickets/book", {"userId": "ann", "tier": "GA", "quantity": 1})
        after = get(f"{base}/api/tickets", etag)
    assert (first[0], again[0], again[1]) == (200, 304, b"")
    assert (after[0], json.loads(after[1])[0]["availableQuantity"]) == (200, 99)


def get(url: str, etag: str | None = None) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, headers={"If-None-Match": etag} if etag else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as answer:  # 304 too
        return answer.code, answer.read(), dict(answer.headers)


@pytest.mark.parametrize("path", ["/api/tickets", "/api/tickets/stream"])
def test_while_the_store_does_not_answer_the_list_and_its_stream_are_503_not_a_server_error(app, monkeypatch, path):
    """The copy cannot be read: the request goes to Flask, whose error handlers answer."""

    def store_down():
        raise OperationalError("connection refused")

    monkeypatch.setattr(app.extensions["services"].board, "get", store_down)
    answer = app.test_client().get(path)
    assert (answer.status_code, answer.json["error"]["code"], answer.headers["Retry-After"]) == (
        503,
        "STORE_UNAVAILABLE",
        "1",
    )
