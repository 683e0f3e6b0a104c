"""The organizer dashboard's JSON (``web/api/admin/dashboard.py``) on both stores: the overview of tiers
and counters, each tier's sales per minute from its events, and the audit of every tier."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.e2e.conftest import ADMIN_TOKEN, book

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def admin(admin_app: Flask) -> FlaskClient:
    return admin_app.test_client()


def get(client: FlaskClient, path: str) -> dict:
    response = client.get(path, headers=AUTH)
    assert response.status_code == 200, response.json
    return response.json


def hold(client: FlaskClient, user: str, quantity: int) -> str:
    response = client.post("/api/tickets/hold", json={"userId": user, "tier": "VIP", "quantity": quantity})
    assert response.status_code == 201, response.json
    return response.json["holdId"]


def test_the_overview_has_every_tier_and_counters_that_move_with_the_sales(admin):
    before = get(admin, "/api/admin/overview")
    assert [
        (t["tier"], t["capacity"], t["sold"], t["held"], t["availableQuantity"], t["onSale"]) for t in before["tiers"]
    ] == [("GA", 50, 0, 0, 50, True), ("VIP", 5, 0, 0, 5, True)]
    book(admin, quantity=2)
    hold(admin, "u2", 1)
    after = get(admin, "/api/admin/overview")
    assert [(t["sold"], t["held"], t["availableQuantity"]) for t in after["tiers"] if t["tier"] == "VIP"] == [(2, 1, 2)]
    moved = {name: after["counters"][name] - before["counters"][name] for name in before["counters"]}
    # (The counters are the process's own: other tests' sales count too, but not between these readings.)
    assert moved == {"bookings": 1, "ticketsSold": 2, "holds": 1, "conflicts": 0, "batches": 2, "batchedRequests": 2}
    assert (after["projectionLag"], after["at"] > before["at"]) == (0, True)


def test_sales_per_minute_add_up_to_the_tier_and_say_when_it_sold_out(admin):
    book(admin, quantity=2)
    confirmed = hold(admin, "u2", 1)
    assert admin.post(f"/api/holds/{confirmed}/confirm", json={"userId": "u2"}).status_code == 200
    hold(admin, "u3", 1)
    cancelled = book(admin, quantity=1).json["bookingId"]
    assert admin.post(f"/api/bookings/{cancelled}/cancel", json={"userId": "u1"}).status_code == 200
    sales = get(admin, "/api/admin/tiers/VIP/sales")
    totals = {key: sum(minute[key] for minute in sales["minutes"]) for key in ("sold", "cancelled", "held")}
    assert totals == {"sold": 4, "cancelled": 1, "held": 2}
    assert (sales["tier"], sales["version"], sales["soldOutAt"]) == ("VIP", 7, None)
    assert all(minute["minute"].endswith(":00+00:00") for minute in sales["minutes"])

    book(admin, user="u4", quantity=1)  # the last one: 3 sold, 1 held, 1 more sold
    sales = get(admin, "/api/admin/tiers/VIP/sales")
    last = get(admin, "/api/tiers/VIP/history?after=7")["items"][-1]
    assert (last["availableQuantity"], sales["soldOutAt"]) == (0, last["at"])
    assert get(admin, "/api/tiers/VIP")["sold"] == sum(m["sold"] - m["cancelled"] for m in sales["minutes"])


def test_sales_of_an_unknown_tier_are_404(admin):
    response = admin.get("/api/admin/tiers/NOPE/sales", headers=AUTH)
    assert (response.status_code, response.json["error"]["code"]) == (404, "TICKET_NOT_FOUND")


def test_the_audit_verifies_every_tier_and_names_what_disagrees(admin, admin_app):
    book(admin, quantity=2)
    assert get(admin, "/api/admin/audit") == [
        {"tier": "GA", "events": 1, "ok": True, "problems": []},
        {"tier": "VIP", "events": 2, "ok": True, "problems": []},
    ]
    view = admin_app.extensions["services"].view
    with view.datastore.transaction(commit=True) as cursor:
        cursor.execute(view.sql("UPDATE {availability} SET sold = sold + 1 WHERE tier = 'VIP'"))
    vip = get(admin, "/api/admin/audit")[1]
    assert (vip["ok"], vip["problems"][0]["version"]) == (False, None)
    assert vip["problems"][0]["message"].startswith("availability row for VIP says")


@pytest.mark.parametrize("path", ["/api/admin/overview", "/api/admin/tiers/VIP/sales", "/api/admin/audit"])
def test_the_dashboards_figures_need_the_admin_token(admin, app, path):
    response = admin.get(path, headers={"Authorization": "Bearer wrong"})
    assert (response.status_code, response.json["error"]["code"]) == (401, "UNAUTHORIZED")
    off = app.test_client().get(path, headers=AUTH)  # an app without ADMIN_TOKEN
    assert (off.status_code, off.json["error"]["code"]) == (404, "NOT_FOUND")
