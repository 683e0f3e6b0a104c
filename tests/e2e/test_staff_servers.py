"""Staff sign-in under attack, from outside, through real gunicorn servers (on PostgreSQL two
servers on one store with their sign-in counts in Redis; on SQLite one): 1,000 wrong
passwords against one account from 250 loopback addresses get no one in and lock out no one
else; a session id planted before sign-in is never the session; a change from another
origin or without the CSRF token is refused; and a cookie after sign-out, after signing out
everywhere, or an API key after revocation, is refused on every host within a second."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.e2e.staff_http import Session, send, sign_in
from tests.processes import clean_gunicorn

ADMIN = {"Authorization": "Bearer staff-admin-token"}
PASSWORD = "the owner's long password"
TIER = "STAFF_TIER"
ATTACKERS = [f"127.0.12.{n}" for n in range(1, 251)]  # this work's loopback range
BYSTANDER_ADDRESS = "127.0.12.252"
PER_ACCOUNT = 20  # STAFF_SIGN_IN_LIMIT_PER_ACCOUNT's default: 20 in 10 minutes


@pytest.fixture
def hosts(store_env: dict[str, str], tmp_path: Path) -> Iterator[list[str]]:
    """The base URLs of the web hosts: two on one PostgreSQL store, one on SQLite."""
    env = {
        **store_env,
        "ADMIN_TOKEN": ADMIN["Authorization"].split()[1],
        "DEMO_TIERS": f"{TIER}:10.00:100",
        "PROJECT_IN_PROCESS": "yes",
        "INTEGRATIONS_IN_PROCESS": "no",
        "BOOKING_RATE_LIMIT": "",
        "RATE_LIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "RATE_LIMIT_KEY_PREFIX": f"people-test-{uuid.uuid4().hex[:8]}",
    }
    count = 2 if store_env["PERSISTENCE_MODULE"] == "eventsourcing.postgres" else 1
    with ExitStack() as stack:
        bases = []
        for n in range(count):
            folder = tmp_path / f"host{n}"
            folder.mkdir()
            bases.append(stack.enter_context(clean_gunicorn(env, folder)))
        yield bases


def member(base: str, email: str, role: str = "manager", organizer: str = "default") -> None:
    body = {"email": email, "role": role, "password": PASSWORD}
    answer = send(base, "POST", f"/api/admin/organizers/{organizer}/members", body, ADMIN)
    assert answer.status == 201, answer.body


def signed_in_everywhere(hosts: list[str], session: Session) -> list[int]:
    return [send(base, "GET", "/api/staff/me", None, session.headers(change=False)).status for base in hosts]


def test_a_thousand_wrong_passwords_from_many_addresses_get_no_one_in_and_lock_no_one_else(hosts: list[str]):
    member(hosts[0], "victim@staff.example")
    member(hosts[0], "bystander@staff.example")

    def guess(n: int) -> int:
        body = {"email": "victim@staff.example", "password": f"guess number {n}"}
        return send(hosts[n % len(hosts)], "POST", "/api/staff/sign-in", body, source=ATTACKERS[n % 250]).status

    with ThreadPoolExecutor(8) as pool:
        answers = Counter(pool.map(guess, range(1000)))
    print(f"\n1,000 wrong passwords from 250 addresses over {len(hosts)} host(s): {dict(answers)}")
    assert set(answers) <= {401, 429}, answers
    assert answers[401] <= PER_ACCOUNT + 8  # the account's limit, plus guesses already in flight
    for base in hosts:  # someone else, from their own address, on every host: in at once
        assert sign_in(base, "bystander@staff.example", PASSWORD, source=BYSTANDER_ADDRESS).csrf
    victim = send(hosts[0], "POST", "/api/staff/sign-in", {"email": "victim@staff.example", "password": PASSWORD})
    assert victim.status == 429  # the price: the guessed-at account waits out its window


def test_a_session_id_planted_before_sign_in_is_never_the_session(hosts: list[str]):
    member(hosts[0], "fixed@staff.example")
    me = send(hosts[0], "POST", "/api/staff/sign-in", {"email": "fixed@staff.example", "password": "wrong password!"})
    member_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "member:fixed@staff.example"))
    planted = f"staff={member_id}.attacker-chosen-token"
    answer = send(
        hosts[0],
        "POST",
        "/api/staff/sign-in",
        {"email": "fixed@staff.example", "password": PASSWORD},
        {"Cookie": planted},
    )
    assert me.status == 401 and answer.status == 200
    assert answer.headers["Set-Cookie"].split(";")[0] != planted
    assert signed_in_everywhere(hosts, Session(planted, "")) == [401] * len(hosts)


def test_a_change_from_another_origin_or_without_the_csrf_token_is_refused_on_every_host(hosts: list[str]):
    member(hosts[0], "csrf@staff.example")
    session = sign_in(hosts[0], "csrf@staff.example", PASSWORD)
    path, body = f"/api/admin/tiers/{TIER}/capacity", {"quantity": 1}
    for base in hosts:
        elsewhere = {**session.headers(), "Origin": "http://evil.example"}
        assert send(base, "POST", path, body, elsewhere).status == 403
        assert send(base, "POST", path, body, session.headers(change=False)).status == 403
        assert send(base, "POST", path, body, {**session.headers(), "X-CSRF-Token": "0" * 64}).status == 403
        assert send(base, "POST", path, body, {**session.headers(), "Origin": base}).status == 200
    capacity = send(hosts[0], "GET", "/api/admin/overview", None, ADMIN).body["tiers"]
    assert [t["capacity"] for t in capacity if t["tier"] == TIER] == [100 + len(hosts)]


def refused_everywhere_within_a_second(hosts: list[str], ask) -> float:
    """Seconds until every host refuses (401); fails past one second."""
    start = time.monotonic()
    while True:
        if all(ask(base) == 401 for base in hosts):
            return time.monotonic() - start
        assert time.monotonic() - start < 1.0, [ask(base) for base in hosts]
        time.sleep(0.02)


def test_a_cookie_after_sign_out_or_sign_out_everywhere_is_refused_on_every_host(hosts: list[str]):
    member(hosts[0], "leaver@staff.example")
    first = sign_in(hosts[0], "leaver@staff.example", PASSWORD)
    assert signed_in_everywhere(hosts, first) == [200] * len(hosts)
    assert send(hosts[-1], "POST", "/api/staff/sign-out", None, first.headers()).status == 200
    refused_everywhere_within_a_second(hosts, lambda base: signed_in_everywhere([base], first)[0])

    phone, laptop = (sign_in(base, "leaver@staff.example", PASSWORD) for base in (hosts[0], hosts[-1]))
    assert send(hosts[0], "POST", "/api/staff/sign-out-everywhere", None, phone.headers()).status == 200
    for session in (phone, laptop):
        refused_everywhere_within_a_second(hosts, lambda base, s=session: signed_in_everywhere([base], s)[0])


def test_an_api_key_after_revocation_is_refused_on_every_host(hosts: list[str]):
    member(hosts[0], "owner@staff.example", role="owner")
    owner = sign_in(hosts[0], "owner@staff.example", PASSWORD)
    issued = send(
        hosts[0],
        "POST",
        "/api/admin/organizers/default/api-keys",
        {"name": "ci", "role": "viewer", "expiresInDays": 1},
        owner.headers(),
    ).body
    key = {"Authorization": f"Bearer {issued['key']}"}

    def overview(base: str) -> int:
        return send(base, "GET", "/api/admin/overview", None, key).status

    assert [overview(base) for base in hosts] == [200] * len(hosts)
    assert send(hosts[0], "POST", f"/api/admin/tiers/{TIER}/close", None, key).status == 403  # a viewer
    revoke = f"/api/admin/organizers/default/api-keys/{issued['keyId']}/revoke"
    assert send(hosts[0], "POST", revoke, None, owner.headers()).status == 200
    took = refused_everywhere_within_a_second(hosts, overview)
    print(f"\nrevoked key refused on {len(hosts)} host(s) after {took * 1000:.0f} ms")
