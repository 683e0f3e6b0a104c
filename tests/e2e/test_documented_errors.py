"""The OpenAPI document lists, for every operation, exactly the error codes it answers.

Each (operation, code) below is driven for real through the app, and the answer's status and
code checked; the table's codes per operation are the document's. An operation's own
refusals are made by the request that meets them; those of its kinds (``refusals.KINDS``:
a body it cannot take, a store, a ledger or a queue that does not answer, the rate limits,
the tokens) by the same fault on each operation of the kind, from a request it accepts.

One code is driven once for all, for the reason given: ``REQUEST_TIMEOUT``, a body that does
not arrive in time, is refused before the app routes the request (``web/http/request_body.py``
reads every body first, whatever the operation), and only a real gevent server waits for one.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.e2e.operations import OPERATIONS
from tests.e2e.refusals import ADMIN_TOKEN, KINDS, House
from tests.processes import clean_sqlite_gunicorn
from web import create_app
from web.http.errors import ERROR_STATUS

ONCE = {"REQUEST_TIMEOUT": "body"}  # driven once, below, on every operation of the kind


def table() -> dict[str, set[str]]:
    """Every operation's codes, as this table drives them."""
    return {
        key: {*operation.own, *(code for kind in operation.kinds for code in KINDS[kind])}
        | {code for code, kind in ONCE.items() if kind in operation.kinds}
        for key, operation in OPERATIONS.items()
    }


CASES = [(key, code) for key, codes in table().items() for code in sorted(codes) if code not in ONCE]


def settings(folder: Path, **config: object) -> dict[str, object]:
    return {
        "LEDGER_ENV": {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(folder / "ledger.sqlite3"),
            "BOOKING_MAX_ATTEMPTS": "2",  # a ledger that is always busy gives up at once
            "BOOKING_BACKOFF_CAP_MS": "1",
        },
        "DEMO_TIERS": "VIP:1.00:10",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "PROJECT_IN_PROCESS": "yes",
        "EXPIRE_HOLDS_IN_PROCESS": "no",
        "INTEGRATIONS_IN_PROCESS": "no",
        "BOOKING_RATE_LIMIT": "",
        "ADMIN_AUTH_RATE_LIMIT": "",
        "FEED_MAX_WAIT_SECONDS": 0,
        "SSE_MAX_SECONDS": 0.1,
        "QUEUE_TERMS_SECONDS": 0.0,  # a room turned on is heard of at once
        "QUEUE_TERMS_KEEP_SECONDS": 0.0,
        **config,
    }


APPS = {
    "main": {},
    "limited": {
        "BOOKING_RATE_LIMIT": "1 per minute",
        "ADMIN_AUTH_RATE_LIMIT": "1 per minute",
        "STAFF_SIGN_IN_LIMIT_PER_ADDRESS": "1 per minute",
    },
    "bare": {"ADMIN_TOKEN": "", "FEED_TOKEN": ""},
    "queue_down": {"QUEUE_STORAGE_URI": "redis://127.0.0.1:1/0"},  # nothing listens there
}


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> Iterator[House]:
    apps = {name: create_app(settings(tmp_path_factory.mktemp(name), **config)) for name, config in APPS.items()}
    yield House(apps)
    for app in apps.values():
        app.extensions["services"].close()


def document(app: Flask) -> dict[str, set[str]]:
    """Every operation's error codes, as the document lists them."""
    doc = app.test_client().get("/openapi.json").json
    return {
        f"{method.upper()} {path}": {
            code
            for status, response in operation["responses"].items()
            if int(status) >= 400
            for code in response["content"]["application/json"]["examples"]
        }
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    }


def test_the_table_drives_exactly_the_codes_the_document_lists_for_every_operation(house: House):
    assert table() == document(house.apps["main"])


@pytest.mark.parametrize(("operation", "code"), CASES, ids=[f"{key} {code}" for key, code in CASES])
def test_each_documented_refusal_is_answered_with_its_status_and_code(house: House, operation: str, code: str):
    case = OPERATIONS[operation]
    drive = case.own.get(code)
    if drive is None:
        kind = next(kind for kind in case.kinds if code in KINDS[kind])
        answer = KINDS[kind][code](house, case.call(house))
    else:
        answer = drive(house)
    assert (answer.status_code, answer.json["error"]["code"]) == (ERROR_STATUS[code], code), answer.json


def test_a_body_that_does_not_arrive_in_time_is_refused_before_any_operation_sees_it(tmp_path: Path):
    """Once for every operation that takes a body: a real server, a body that stops half way."""
    with clean_sqlite_gunicorn({"REQUEST_BODY_TIMEOUT": "0.5", "DEMO_TIERS": ""}, tmp_path) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(
                b"POST /api/tickets/book HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"userId": '
            )
            head, _, body = connection.recv(65536).partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"408"
    assert json.loads(body)["error"]["code"] == "REQUEST_TIMEOUT"
