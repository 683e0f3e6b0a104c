"""Token mode, on both stores, with real signed tokens: the user is the subject of a verified
bearer token on every user endpoint; a request naming someone else is 403, one without a
valid token 401 (expired, another issuer or audience, another key, ``alg: none``, HS256
signed with the public key); the issuer's keys from a PEM or from a JWKS URL served here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask

from scripts.harness.processes import call, gunicorn
from tests.e2e.conftest import make_app
from tests.e2e.test_api import error_code
from web import create_app

ISSUER, AUDIENCE = "https://id.example", "ticket-ledger"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(private_key: Any) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def token(sub: str = "ann", key: Any = RSA_KEY, algorithm: str = "RS256", kid: str = "k1", **claims: Any) -> str:
    payload = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 300, **claims}
    return jwt.encode(
        {k: v for k, v in payload.items() if v is not None}, key, algorithm=algorithm, headers={"kid": kid}
    )


def as_user(sub: str = "ann", **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, **kwargs)}"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"


def claims(sub: str = "ann") -> dict[str, Any]:
    return {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 300}


def alg_none() -> str:
    return unsigned({"alg": "none", "typ": "JWT", "kid": "k1"}, claims()) + "."


def hs256_with_the_public_key() -> str:
    """The key-confusion attack: HMAC-signed with the issuer's public key as the secret."""
    signing_input = unsigned({"alg": "HS256", "typ": "JWT", "kid": "k1"}, claims())
    signature = hmac.new(pem(RSA_KEY).encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


TOKEN_SETTINGS = {"USER_TOKEN_ISSUER": ISSUER, "USER_TOKEN_AUDIENCE": AUDIENCE, "USER_TOKEN_ALGORITHMS": "RS256,ES256"}


@pytest.fixture
def token_app(store_env: dict[str, str]) -> Iterator[Flask]:
    app = make_app(store_env, **TOKEN_SETTINGS, USER_TOKEN_KEY=pem(RSA_KEY))
    yield app
    app.extensions["services"].close()


@pytest.fixture
def client(token_app: Flask):
    return token_app.test_client()


def book(client, user: str = "ann", headers: dict[str, str] | None = None, **kwargs: Any):
    return client.post(
        "/api/tickets/book",
        json={"userId": user, "tier": "GA", "quantity": 1},
        headers=as_user(user) if headers is None else headers,
        **kwargs,
    )


def test_a_user_with_a_valid_token_books_holds_lists_reads_and_ends_their_own(client):
    booking_id = book(client).json["bookingId"]
    hold_id = client.post(
        "/api/tickets/hold", json={"userId": "ann", "tier": "GA", "quantity": 1}, headers=as_user()
    ).json["holdId"]
    listed = client.get("/api/users/ann/bookings", headers=as_user()).json
    assert {b["bookingId"] for b in listed} == {booking_id, hold_id}
    assert client.get(f"/api/bookings/{booking_id}", headers=as_user()).json["userId"] == "ann"
    assert client.post(f"/api/holds/{hold_id}/confirm", json={"userId": "ann"}, headers=as_user()).status_code == 200
    cancelled = client.post(f"/api/bookings/{booking_id}/cancel", json={"userId": "ann"}, headers=as_user())
    assert cancelled.json["status"] == "cancelled"


def requests_naming(user: str, booking_id: str) -> list[tuple[str, str, Any]]:
    """Every user endpoint, as a request naming ``user``."""
    return [
        ("post", "/api/tickets/book", {"userId": user, "tier": "GA", "quantity": 1}),
        ("post", "/api/tickets/hold", {"userId": user, "tier": "GA", "quantity": 1}),
        ("post", f"/api/bookings/{booking_id}/cancel", {"userId": user}),
        ("post", f"/api/holds/{booking_id}/confirm", {"userId": user}),
        ("post", f"/api/holds/{booking_id}/release", {"userId": user}),
        ("get", f"/api/users/{user}/bookings", None),
        ("post", "/api/tickets/waiting-list", {"userId": user, "tier": "GA", "quantity": 1}),
        ("post", "/api/tickets/waiting-list/leave", {"userId": user, "tier": "GA"}),
        ("get", f"/api/users/{user}/waiting-list/GA", None),
    ]


def test_a_request_naming_another_user_than_the_tokens_is_403_and_changes_nothing(client, token_app):
    booking_id = book(client).json["bookingId"]
    position = token_app.extensions["services"].ledger.recorder.max_notification_id()
    for method, path, body in requests_naming("ann", booking_id):
        response = getattr(client, method)(path, json=body, headers=as_user("mallory"))
        assert (response.status_code, error_code(response)) == (403, "FORBIDDEN"), path
    assert token_app.extensions["services"].ledger.recorder.max_notification_id() == position


def test_without_a_valid_token_every_user_endpoint_is_401_before_the_body_is_read(client):
    booking_id = book(client).json["bookingId"]
    for method, path, body in [
        *requests_naming("ann", booking_id),
        ("get", f"/api/bookings/{booking_id}", None),
        ("post", "/api/tickets/book", "{not json"),
    ]:
        send = getattr(client, method)
        response = (
            send(path, data=body, content_type="application/json") if isinstance(body, str) else send(path, json=body)
        )
        assert (response.status_code, error_code(response)) == (401, "UNAUTHORIZED"), path
        assert response.headers["WWW-Authenticate"] == "Bearer realm=users"
    assert client.get("/api/tickets").status_code == 200  # what is on sale stays public


@pytest.mark.parametrize(
    ("bearer", "message"),
    [
        (lambda: token(exp=int(time.time()) - 120), "The bearer token has expired."),
        (lambda: token(iss="https://evil.example"), "The bearer token is not valid."),
        (lambda: token(aud="another-service"), "The bearer token is not valid."),
        (lambda: token(exp=None), "The bearer token is not valid."),
        (lambda: token(sub=None), "The bearer token is not valid."),
        (lambda: token(key=OTHER_KEY), "The bearer token is not valid."),
        (lambda: token(key=EC_KEY, algorithm="ES256"), "The bearer token is not valid."),  # allowed alg, wrong key
        (lambda: token(algorithm="RS512"), "The bearer token is not valid."),  # not a pinned algorithm
        (alg_none, "The bearer token is not valid."),
        (hs256_with_the_public_key, "The bearer token is not valid."),
        (lambda: "not.a.token", "The bearer token is not valid."),
        (lambda: token(sub="a/b"), "The bearer token's subject is not a valid user id."),
    ],
)
def test_a_token_that_is_not_the_issuers_valid_one_for_us_is_401(client, bearer, message):
    response = book(client, headers={"Authorization": f"Bearer {bearer()}"})
    assert (response.status_code, error_code(response)) == (401, "UNAUTHORIZED")
    assert response.json["error"]["message"] == message
    assert response.headers["WWW-Authenticate"] == "Bearer realm=users, error=invalid_token"


def test_someone_elses_booking_is_not_found_to_a_user_with_a_token(client):
    booking_id = book(client).json["bookingId"]
    unknown = str(uuid.uuid4())
    strangers = client.get(f"/api/bookings/{booking_id}", headers=as_user("mallory"))
    nobodys = client.get(f"/api/bookings/{unknown}", headers=as_user("mallory"))
    assert (strangers.status_code, error_code(strangers)) == (404, "BOOKING_NOT_FOUND")
    assert strangers.json["error"]["message"].replace(booking_id, "ID") == nobodys.json["error"]["message"].replace(
        unknown, "ID"
    )
    cancel = client.post(f"/api/bookings/{booking_id}/cancel", json={"userId": "mallory"}, headers=as_user("mallory"))
    assert (cancel.status_code, error_code(cancel)) == (404, "BOOKING_NOT_FOUND")


def test_a_guessed_idempotency_key_cannot_be_taken_first_by_someone_else(client):
    """The attack on predictable keys: in token mode another user cannot send ann's userId,
    and the key under their own user names their own booking, so ann's request still books."""
    key = {"Idempotency-Key": "order-1"}
    as_ann = book(client, headers={**as_user("mallory"), **key})
    assert (as_ann.status_code, error_code(as_ann)) == (403, "FORBIDDEN")
    mallorys = book(client, "mallory", headers={**as_user("mallory"), **key})
    anns = book(client, "ann", headers={**as_user("ann"), **key})
    assert (mallorys.status_code, anns.status_code) == (201, 201)
    assert mallorys.json["bookingId"] != anns.json["bookingId"]


def test_the_document_shows_the_bearer_token_and_its_answers_on_every_user_endpoint(client):
    doc = client.get("/openapi.json").json
    scheme = doc["components"]["securitySchemes"]["userToken"]
    assert (scheme["scheme"], scheme["bearerFormat"]) == ("bearer", "JWT")
    user_operations = {
        (path, method): operation
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method != "parameters" and operation.get("security") == [{"userToken": []}]
    }
    assert set(user_operations) == {
        ("/api/tickets/book", "post"),
        ("/api/tickets/hold", "post"),
        ("/api/holds/{hold_id}/confirm", "post"),
        ("/api/holds/{hold_id}/release", "post"),
        ("/api/bookings/{booking_id}/cancel", "post"),
        ("/api/bookings/{booking_id}", "get"),
        ("/api/users/{user_id}/bookings", "get"),
        ("/api/bookings/{booking_id}/tickets", "get"),
        ("/api/orders", "post"),
        ("/api/orders/{order_id}", "get"),
        ("/api/queue", "post"),
        ("/api/tickets/waiting-list", "post"),
        ("/api/tickets/waiting-list/leave", "post"),
        ("/api/users/{user_id}/waiting-list/{tier}", "get"),
    }
    for operation in user_operations.values():
        assert {"401", "403", "503"} <= set(operation["responses"])
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
    assert "`SERVICE_UNAVAILABLE`" in user_operations[("/api/tickets/book", "post")]["responses"]["503"]["description"]


@pytest.mark.parametrize(
    "settings",
    [
        {"USER_TOKEN_AUDIENCE": ""},
        {"USER_TOKEN_ALGORITHMS": "HS256"},
        {"USER_TOKEN_ALGORITHMS": "RS256,none"},
        {"USER_TOKEN_JWKS_URL": "http://127.0.0.1:9/jwks.json"},  # as well as the key
        {"USER_TOKEN_KEY": ""},  # neither
        {
            "USER_TOKEN_KEY": RSA_KEY.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()
        },
    ],
)
def test_token_mode_does_not_start_with_a_setting_missing_or_unsafe(tmp_path, settings):
    store = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "ledger.sqlite3")}
    with pytest.raises(ValueError):
        create_app(
            {"LEDGER_ENV": store, "DEMO_TIERS": "", **TOKEN_SETTINGS, "USER_TOKEN_KEY": pem(RSA_KEY), **settings}
        )


class KeySet:
    """The issuer's JWKS, served on 127.0.0.1 from a thread; counts its requests."""

    def __init__(self, *private_keys: tuple[str, Any]) -> None:
        keys = [
            {
                **json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(key.public_key())),
                "kid": kid,
                "alg": alg,
                "use": "sig",
            }
            for kid, alg, key in private_keys
        ]
        body = json.dumps({"keys": keys}).encode()
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def key_set() -> Iterator[KeySet]:
    served = KeySet(("k1", "RS256", RSA_KEY), ("k2", "ES256", EC_KEY))
    yield served
    served.stop()


def test_keys_from_a_jwks_url_verify_tokens_of_each_key_and_refuse_others(store_env, key_set):
    app = make_app(store_env, **TOKEN_SETTINGS, USER_TOKEN_JWKS_URL=key_set.url)
    client = app.test_client()
    try:
        assert book(client).status_code == 201
        assert book(client, headers=as_user(key=EC_KEY, algorithm="ES256", kid="k2")).status_code == 201
        assert book(client, headers=as_user(key=OTHER_KEY, kid="k1")).status_code == 401
        assert book(client, headers=as_user(kid="k9")).status_code == 401  # no such key
        for forged in (alg_none(), hs256_with_the_public_key()):
            assert book(client, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
        assert key_set.requests <= 2  # the key set is cached; one refresh for the unknown kid at most
    finally:
        app.extensions["services"].close()


def test_when_the_jwks_url_does_not_answer_a_user_endpoint_is_503_with_retry_after(store_env, key_set):
    app = make_app(store_env, **TOKEN_SETTINGS, USER_TOKEN_JWKS_URL=key_set.url)
    key_set.stop()
    try:
        response = book(app.test_client())
        assert (response.status_code, error_code(response)) == (503, "SERVICE_UNAVAILABLE")
        assert response.headers["Retry-After"] == "1"
    finally:
        app.extensions["services"].close()


@pytest.mark.slow
def test_a_real_server_in_token_mode_acts_only_for_the_tokens_user(tmp_path, key_set):
    env = {
        "SQLITE_DBNAME": str(tmp_path / "ledger.sqlite3"),
        "DEMO_TIERS": "GA:10.00:100",
        "BOOKING_RATE_LIMIT": "",
        **TOKEN_SETTINGS,
        "USER_TOKEN_JWKS_URL": key_set.url,
    }
    body = {"userId": "ann", "tier": "GA", "quantity": 1}
    with open(tmp_path / "gunicorn.log", "w") as log, gunicorn(env, log) as (base, _):
        booked = call(f"{base}/api/tickets/book", body, headers=as_user())
        assert booked.status == 201
        booking = f"{base}/api/bookings/{booked.body['bookingId']}"
        anonymous = call(f"{base}/api/tickets/book", body)
        assert (anonymous.status, anonymous.headers["WWW-Authenticate"]) == (401, "Bearer realm=users")
        assert call(f"{base}/api/tickets/book", body, headers=as_user("mallory")).status == 403
        assert call(booking, headers=as_user("mallory")).status == 404
        assert call(f"{booking}/cancel", {"userId": "mallory"}, headers=as_user("mallory")).status == 404
        assert call(f"{base}/api/users/ann/bookings", headers=as_user("mallory")).status == 403
        assert [b["bookingId"] for b in call(f"{base}/api/users/ann/bookings", headers=as_user()).body] == [
            booked.body["bookingId"]
        ]
        assert call(f"{booking}/cancel", {"userId": "ann"}, headers=as_user()).body["status"] == "cancelled"
