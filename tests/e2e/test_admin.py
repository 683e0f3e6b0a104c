"""The admin endpoints: behind a bearer token, or absent when no token is configured."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import book
from web import create_app

TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def admin(store_env):
    app = create_app({"LEDGER_ENV": store_env, "DEMO_TIERS": "", "PROJECT_IN_PROCESS": "yes", "ADMIN_TOKEN": TOKEN})
    yield app.test_client()
    app.extensions["services"].close()


def test_without_a_configured_token_the_admin_endpoints_do_not_exist(client):
    response = client.post("/api/admin/tiers", json={"tier": "X", "price": "1.00", "capacity": 1}, headers=AUTH)
    assert (response.status_code, response.json["error"]["code"]) == (404, "NOT_FOUND")


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}]
)
def test_a_missing_or_wrong_token_is_401_without_a_hint(admin, headers):
    response = admin.post("/api/admin/tiers", json={"tier": "X", "price": "1.00", "capacity": 1}, headers=headers)
    assert (response.status_code, response.json["error"]["code"]) == (401, "UNAUTHORIZED")
    assert response.json["error"]["message"] == "Authentication required."
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert admin.get("/api/tickets").json == []


def test_an_admin_creates_a_tier_adds_capacity_and_closes_sales(admin):
    created = admin.post(
        "/api/admin/tiers", json={"tier": "VIP", "price": "25.50", "capacity": 2, "perUserLimit": 2}, headers=AUTH
    )
    assert created.status_code == 201
    assert created.json == {
        "tier": "VIP",
        "price": "25.50",
        "capacity": 2,
        "sold": 0,
        "availableQuantity": 2,
        "version": 1,
        "onSale": True,
        "perUserLimit": 2,
    }
    again = admin.post("/api/admin/tiers", json={"tier": "VIP", "price": "1.00", "capacity": 1}, headers=AUTH)
    assert (again.status_code, again.json["error"]["code"]) == (409, "TIER_ALREADY_EXISTS")
    more = admin.post("/api/admin/tiers/VIP/capacity", json={"quantity": 8}, headers=AUTH)
    assert more.json["availableQuantity"] == 10
    assert book(admin, quantity=2).status_code == 201
    over = book(admin, quantity=1)
    assert (over.status_code, over.json["error"]["code"]) == (422, "USER_LIMIT_EXCEEDED")
    closed = admin.post("/api/admin/tiers/VIP/close", headers=AUTH)
    assert (closed.status_code, closed.json["onSale"]) == (200, False)
    refused = book(admin, user="u2", quantity=1)
    assert (refused.status_code, refused.json["error"]["code"]) == (409, "SALES_CLOSED")
    assert admin.get("/api/tickets").json[0]["onSale"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"tier": "vip", "price": "1.00", "capacity": 1},
        {"tier": "VIP", "price": "1.001", "capacity": 1},
        {"tier": "VIP", "price": "-1", "capacity": 1},
        {"tier": "VIP", "price": "NaN", "capacity": 1},
        {"tier": "VIP", "price": "1e30", "capacity": 1},
        {"tier": "VIP", "price": "1.00", "capacity": -1},
        {"tier": "VIP", "price": "1.00", "capacity": 1, "perUserLimit": 0},
        {"tier": "VIP", "price": "1.00"},
    ],
)
def test_a_bad_tier_is_400_and_creates_nothing(admin, body):
    response = admin.post("/api/admin/tiers", json=body, headers=AUTH)
    assert (response.status_code, response.json["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert admin.get("/api/tickets").json == []


def test_unknown_tiers_are_404_for_admins_too(admin):
    response = admin.post("/api/admin/tiers/NOPE/close", headers=AUTH)
    assert (response.status_code, response.json["error"]["code"]) == (404, "TICKET_NOT_FOUND")


def test_a_cors_preflight_to_the_admin_api_is_answered_without_a_token(store_env):
    """A browser asks first (OPTIONS, never with credentials), then sends the token."""
    app = create_app(
        {"LEDGER_ENV": store_env, "DEMO_TIERS": "", "ADMIN_TOKEN": TOKEN, "CORS_ORIGINS": "https://admin.example"}
    )
    preflight = app.test_client().options(
        "/api/admin/tiers",
        headers={
            "Origin": "https://admin.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://admin.example"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    app.extensions["services"].close()
