"""What ``test_documented_errors.py`` drives its refusals with: the apps (one with everything
on, one with the rate limits low, one with no tokens set, one whose queue store does not
answer), the state a case needs made on the main one, the faults of a store, a ledger and a
queue that do not answer, and the refusals every operation of a kind meets."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError
from eventsourcing.sqlite import SQLiteDatastore
from flask import Flask
from werkzeug.test import TestResponse

from application.errors import OutcomeUnknownError
from application.waiting_room.passes import Pass

ADMIN_TOKEN = "documented-errors-admin"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
WRONG = {"Authorization": "Bearer wrong"}
LARGEST_BODY = 16 * 1024  # MAX_CONTENT_LENGTH's default


@dataclass(frozen=True)
class Call:
    """One request: what ``FlaskClient.open`` takes."""

    method: str
    path: str
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    data: str | None = None  # a body sent as it is, instead of ``json``


@dataclass(frozen=True)
class Operation:
    """An operation of the document: a request it accepts (made on the main app), the kinds
    of ``KINDS`` it belongs to, and its own refusals, each made by the request that meets it."""

    call: Callable[[House], Call]
    kinds: tuple[str, ...] = ()
    own: dict[str, Callable[[House], TestResponse]] = field(default_factory=dict)


def sent(method: str, path: str, json: Any = None, headers: dict[str, str] | None = None) -> Callable:
    """A refusal that one fixed request meets."""
    return lambda h: h.send(Call(method, path, json, headers or {}))


def get(path: str, headers: dict[str, str] | None = None) -> Callable[[House], Call]:
    """A request to read ``path``."""
    return lambda h: Call("GET", path, headers=headers or {})


class Interrupted(BaseException):
    """Like gevent's ``Timeout``: not an ``Exception``, so nothing on its way catches it."""


class House:
    """The apps under test and the state a case needs, made on the main app."""

    def __init__(self, apps: dict[str, Flask]) -> None:
        self.apps = apps
        self.services = apps["main"].extensions["services"]
        self._names = itertools.count()
        self._addresses = itertools.count(1)

    def send(self, call: Call, app: str = "main", address: str | None = None, **changes: Any) -> TestResponse:
        """``call`` (with ``changes``) to ``app``, from ``address`` or a client of its own."""
        call = replace(call, **changes)
        body = {"json": call.json} if call.data is None else {"data": call.data}
        client = self.apps[app].test_client(use_cookies=False)  # a Cookie header goes as sent
        environ = {"REMOTE_ADDR": address or self.address()}
        return client.open(call.path, method=call.method, headers=call.headers, environ_base=environ, **body)

    def address(self) -> str:
        n = next(self._addresses)
        return f"10.0.{n // 250}.{n % 250}"

    def name(self, prefix: str = "T") -> str:
        return f"{prefix}{next(self._names)}"

    def tier(self, capacity: int = 10, per_user_limit: int | None = None) -> str:
        code = self.name("TIER_")
        self.services.ledger.create_tier(code, Decimal("1.00"), capacity, per_user_limit)
        return code

    def booking(self, hold: bool = False) -> tuple[str, str]:
        """A new user's confirmed booking (or hold) of one ticket of a new tier: (user, id)."""
        user = self.name("user-")
        answer = self.send(Call("POST", f"/api/tickets/{'hold' if hold else 'book'}", buying(user, self.tier())))
        assert answer.status_code == 201, answer.json
        return user, answer.json["holdId" if hold else "bookingId"]

    def code(self, booking_id: str) -> str:
        """The signed code of the booking's first ticket."""
        return self.send(Call("GET", f"/api/bookings/{booking_id}/tickets")).json[0]["code"]

    def show_tier(self, opens_in: float) -> str:
        """A tier of a new event whose sale opens ``opens_in`` seconds from now."""
        tier, opens = self.name("SHOW_"), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + opens_in))
        event = {"eventId": self.name("event-").lower(), "name": "x", "saleOpensAt": opens, "tiers": [new_tier(tier)]}
        assert self.send(Call("POST", "/api/admin/events", event, ADMIN)).status_code == 201
        return tier

    @contextmanager
    def room(self, tiers: list[str] | None) -> Iterator[str]:
        """A waiting room on for ``tiers`` (None: every tier) while the case runs: its id."""
        opened = self.send(Call("POST", "/api/admin/waiting-room", {"rate": 0, "tiers": tiers}, ADMIN))
        assert opened.status_code == 201, opened.json
        try:
            yield opened.json["roomId"]
        finally:
            self.send(Call("POST", "/api/admin/waiting-room/close", headers=ADMIN))

    def expired_pass(self, room_id: str, user: str) -> str:
        return self.services.rooms.signer.sign(Pass(room_id, user, time.time() - 1))

    @contextmanager
    def store_down(self) -> Iterator[None]:
        """Every transaction on the store fails, as when it does not answer."""

        @contextmanager
        def refused(*_: Any, **__: Any) -> Iterator[Any]:
            raise OperationalError("the store does not answer")
            yield

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(SQLiteDatastore, "transaction", refused)
            self.services.board.forget()  # no copy of the tier list in hand
            yield

    @contextmanager
    def ledger_busy(self) -> Iterator[None]:
        """Every recording conflicts, as when other writers always win the race."""

        def conflict(*_: Any, **__: Any) -> None:
            raise IntegrityError("another writer recorded this version first")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(self.services.ledger.recorder, "insert_events", conflict)
            yield

    @contextmanager
    def commits_unanswered(self) -> Iterator[None]:
        """Every recording is sent and its answer never comes within the request's time
        (``application/persistence/deadline.py`` then raises ``OutcomeUnknownError``)."""

        def unanswered(*_: Any, **__: Any) -> None:
            raise OutcomeUnknownError("the store did not answer the commit in time")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(self.services.ledger.recorder, "insert_events", unanswered)
            yield

    def interrupted(self, purchase: str, send_as: Callable[[str], TestResponse]) -> TestResponse:
        """A batch of two purchases whose recording is interrupted (as a gevent ``Timeout``
        interrupts it): its leader's request meets the interruption, the other's answer is
        the one returned. A first purchase holds the recording while the two queue behind it."""
        ledger, holding, release, entered = self.services.ledger, threading.Event(), threading.Event(), []
        insert, enter = ledger.recorder.insert_events, getattr(ledger, purchase)

        def recording(*args: Any, **kwargs: Any) -> Any:
            if not holding.is_set():
                holding.set()
                release.wait(10)
                return insert(*args, **kwargs)
            raise Interrupted()

        def entering(*args: Any, **kwargs: Any) -> Any:
            entered.append(args)
            return enter(*args, **kwargs)

        with pytest.MonkeyPatch.context() as patch, ThreadPoolExecutor(3) as pool:
            patch.setattr(ledger.recorder, "insert_events", recording)
            patch.setattr(ledger, purchase, entering)
            pool.submit(send_as, self.name("first-"))
            assert holding.wait(10)
            batch = [pool.submit(send_as, self.name("batched-")) for _ in range(2)]
            deadline = time.monotonic() + 10
            while len(entered) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.1)  # from the ledger's method into the queue: a lock and an append
            release.set()
            outcomes = [future.exception(10) or future.result() for future in batch]
        assert sum(isinstance(outcome, Interrupted) for outcome in outcomes) == 1, outcomes
        (answer,) = [outcome for outcome in outcomes if not isinstance(outcome, Interrupted)]
        return answer


def buying(user: str, tier: str, quantity: int = 1) -> dict[str, Any]:
    return {"userId": user, "tier": tier, "quantity": quantity}


def new_tier(code: str) -> dict[str, Any]:
    return {"tier": code, "price": "1.00", "capacity": 10}


def unknown_id() -> str:
    return str(uuid.uuid4())


# What an operation meets for its kind, given a request it accepts (made before any fault).
Driver = Callable[[House, Call], TestResponse]
JSON = {"Content-Type": "application/json"}
TEXT = {"Content-Type": "text/plain"}


def with_headers(call: Call, **headers: str) -> Call:
    return replace(call, headers={**call.headers, **headers})


def store_unavailable(h: House, call: Call) -> TestResponse:
    with h.store_down():
        return h.send(call)


def ledger_busy(h: House, call: Call) -> TestResponse:
    with h.ledger_busy():
        return h.send(call)


def outcome_unknown(h: House, call: Call) -> TestResponse:
    with h.commits_unanswered():
        return h.send(call)


def sent_twice(app: str, headers: dict[str, str] | None = None) -> Driver:
    """The request twice from one client to ``app``: the second answer."""

    def drive(h: House, call: Call) -> TestResponse:
        call = replace(call, headers={**call.headers, **(headers or {})})
        client = h.apps[app].test_client()
        answers = [client.open(call.path, method=call.method, json=call.json, headers=call.headers) for _ in range(2)]
        return answers[-1]

    return drive


KINDS: dict[str, dict[str, Driver]] = {
    "body": {  # every operation that takes a JSON body, answered before its own code runs
        "INVALID_JSON": lambda h, call: h.send(with_headers(call, **JSON), data="{"),
        "VALIDATION_ERROR": lambda h, call: h.send(call, json=[]),
        "REQUEST_ENTITY_TOO_LARGE": lambda h, call: h.send(with_headers(call, **JSON), data="x" * (LARGEST_BODY + 1)),
        "UNSUPPORTED_MEDIA_TYPE": lambda h, call: h.send(
            with_headers(call, **{"Content-Type": "text/plain"}), data="x"
        ),
    },
    "bodiless": {  # a command with no body: a body that is not JSON is refused all the same
        "UNSUPPORTED_MEDIA_TYPE": lambda h, call: h.send(
            with_headers(call, **{"Content-Type": "text/plain"}), data="x"
        ),
    },
    "store": {"STORE_UNAVAILABLE": store_unavailable},
    "ledger": {"LEDGER_BUSY": ledger_busy, "OUTCOME_UNKNOWN": outcome_unknown},
    "queue": {"QUEUE_UNAVAILABLE": lambda h, call: h.send(call, app="queue_down")},
    "sale_limit": {"TOO_MANY_REQUESTS": sent_twice("limited")},
    "admin": {
        "UNAUTHORIZED": lambda h, call: h.send(with_headers(call, **WRONG)),
        "NOT_FOUND": lambda h, call: h.send(call, app="bare"),
        "TOO_MANY_REQUESTS": sent_twice("limited", WRONG),
    },
    "feed": {
        "UNAUTHORIZED": lambda h, call: h.send(with_headers(call, **WRONG)),
        "NOT_FOUND": lambda h, call: h.send(call, app="bare"),
    },
    "door": {"UNAUTHORIZED": lambda h, call: h.send(with_headers(call, **WRONG))},
}
