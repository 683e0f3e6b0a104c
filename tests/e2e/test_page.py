"""The web page's server side, through Flask's test client: the HTML shell, its files,
its security policy, and the live tier stream. The browser test drives the page itself."""

from __future__ import annotations

import json
import re
import time
from html.parser import HTMLParser

from tests.e2e.conftest import book


class Labels(HTMLParser):
    """``{control id: label text}`` and the ids of the page's form controls."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: dict[str, str] = {}
        self.controls: set[str] = set()
        self._label_for: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "label":
            self._label_for = attributes["for"]
        elif tag in ("input", "select", "textarea"):
            self.controls.add(attributes["id"] or "")

    def handle_data(self, data: str) -> None:
        if self._label_for:
            self.labels[self._label_for] = self.labels.get(self._label_for, "") + data

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_for = None


def test_the_page_is_html_with_a_label_for_every_field_and_a_strict_policy(client):
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    parser = Labels()
    parser.feed(html)
    assert parser.labels == {"event": "Event", "user-id": "Your user id", "tier": "Tier", "quantity": "Quantity"}
    assert parser.controls == set(parser.labels)
    assert '<meta name="viewport"' in html and 'role="alert"' in html and 'max="10"' in html
    policy = response.headers["Content-Security-Policy"]
    assert all(part in policy for part in ("script-src 'self';", "style-src 'self';", "connect-src 'self';"))
    assert "unsafe-inline" not in policy and "<script>" not in html and "style=" not in html
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_page_has_a_hold_button_with_an_accessible_label(client):
    html = client.get("/").get_data(as_text=True)
    button = re.search(r'<button id="hold-button"([^>]*)>([^<]*)</button>', html)
    assert button and button[2] == "Hold"
    attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', button[1]))
    # The accessible name contains the visible text; the description says what a hold is.
    assert attributes["type"] == "submit" and attributes["aria-label"] == "Hold tickets"
    assert re.search(f'id="{attributes["aria-describedby"]}"[^>]*>Hold sets the tickets aside', html)


def test_the_page_files_are_served_from_the_package(client):
    for path, mimetype in (
        ("/static/app.js", "text/javascript"),
        ("/static/app.css", "text/css"),
        ("/static/favicon.svg", "image/svg+xml"),
    ):
        response = client.get(path)
        assert (response.status_code, response.mimetype) == (200, mimetype), path
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert b"/api/tickets/stream" in client.get("/static/app.js").data


def events(chunks) -> list[list[dict]]:
    """The ``data:`` payloads in some event-stream chunks, parsed."""
    text = b"".join(chunks).decode()
    return [json.loads(line[len("data: ") :]) for line in text.splitlines() if line.startswith("data: ")]


def test_the_stream_sends_the_tiers_then_each_change_and_ends_on_time(client, app):
    app.config["SSE_MAX_SECONDS"] = 1.0
    started = time.monotonic()
    response = client.get("/api/tickets/stream", buffered=False)
    assert (response.status_code, response.mimetype) == (200, "text/event-stream")
    chunks = iter(response.response)
    first = next(chunks)
    assert first.startswith(b"retry: ")
    assert events([first]) == [client.get("/api/tickets").json]
    assert book(client, tier="VIP", quantity=2).status_code == 201
    rest = list(chunks)  # runs until the stream ends by itself
    elapsed = time.monotonic() - started
    assert [[t["availableQuantity"] for t in tiers] for tiers in events(rest)] == [[50, 3]]
    assert 1.0 <= elapsed < 3.0
    response.close()


def test_the_stream_is_in_the_api_document(client):
    answer = client.get("/openapi.json").json["paths"]["/api/tickets/stream"]["get"]["responses"]["200"]
    assert "text/event-stream" in answer["content"]
