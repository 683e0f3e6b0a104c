"""A small HTTP client for the staff tests through real servers: any method, a session
cookie and its CSRF token carried by hand, and a chosen source address on the loopback
(``127.0.12.x``, this work's range), as many clients on many machines would be."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scripts.harness.processes import Reply


def send(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    source: str | None = None,
) -> Reply:
    """One request; the answer's body parsed as JSON (or None when it is empty or not JSON)."""
    url = urlsplit(base)
    connection = http.client.HTTPConnection(
        url.hostname or "127.0.0.1", url.port, timeout=20, source_address=(source, 0) if source else None
    )
    try:
        data = json.dumps(body).encode() if body is not None else None
        sent = {**({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})}
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        raw = response.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return Reply(response.status, parsed, response.headers)
    finally:
        connection.close()


@dataclass
class Session:
    """A signed-in member: the cookie to send and the CSRF token for changes."""

    cookie: str
    csrf: str

    def headers(self, change: bool = True) -> dict[str, str]:
        return {"Cookie": self.cookie, **({"X-CSRF-Token": self.csrf} if change else {})}


def sign_in(base: str, email: str, password: str, code: str = "", source: str | None = None) -> Session:
    answer = send(
        base, "POST", "/api/staff/sign-in", {"email": email, "password": password, "code": code}, source=source
    )
    assert answer.status == 200, answer.body
    return Session(session_cookie(answer), answer.body["csrfToken"])


def session_cookie(answer: Reply) -> str:
    """``name=value`` of the session cookie the answer sets."""
    set_cookie = answer.headers["Set-Cookie"]
    return set_cookie.split(";", 1)[0]
