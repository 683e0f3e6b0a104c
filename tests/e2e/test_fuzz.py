"""No request content can make the API fail with a 500 or write half a booking: hypothesis
throws arbitrary JSON (and near-miss values of each field) at every endpoint that takes a
body or a query, and every answer must be one its OpenAPI description lists."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import ADMIN_TOKEN, book

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
NUMBER = st.integers(-3, 12) | st.integers() | st.sampled_from([2**31, 2**63, 10**40])


def fields(**near_misses: st.SearchStrategy) -> st.SearchStrategy:
    """Objects with all these fields as near misses (often valid), or some of them, each a near
    miss or any JSON; or any JSON at all."""
    values = {name: JSON | near for name, near in near_misses.items()}
    return st.fixed_dictionaries(near_misses) | st.fixed_dictionaries({}, optional=values) | JSON


def query(**near_misses: st.SearchStrategy) -> st.SearchStrategy:
    """Query strings with any of these parameters, each a near miss or any text."""
    return st.fixed_dictionaries(
        {}, optional={name: st.text(max_size=40) | values.map(str) for name, values in near_misses.items()}
    )


CODES = st.sampled_from(["VIP", "GA", "NEW", "vip", "", "A" * 33]) | st.text(max_size=40)
IDS = st.sampled_from(["u1", "u2", "", " ", "a\x00b", "a\n", "a\ud800", "é", "u" * 65]) | st.text(max_size=80)
TAKE = fields(userId=IDS, tier=st.sampled_from(["GA"]) | CODES, quantity=st.integers(1, 2) | NUMBER)
ENDPOINTS = {
    "/api/tickets/book": TAKE,
    "/api/tickets/hold": TAKE,
    "/api/bookings/{booking_id}/cancel": fields(userId=IDS),
    "/api/holds/{hold_id}/confirm": fields(userId=IDS),
    "/api/holds/{hold_id}/release": fields(userId=IDS),
    "/api/admin/tiers": fields(
        tier=CODES,
        capacity=NUMBER,
        perUserLimit=NUMBER,
        price=st.sampled_from(["1.00", "0", "-1", "1.001", "1e3", "NaN", "99999999999.00"]),
    ),
    "/api/admin/tiers/{tier}/capacity": fields(quantity=NUMBER),
    "/api/admin/tiers/{tier}/close": fields(),
    "/api/tiers/{tier}": query(atVersion=NUMBER, atTime=st.datetimes().map(lambda t: t.isoformat())),
    "/api/tiers/{tier}/history": query(after=NUMBER, limit=NUMBER),
    "/api/admin/tiers/{tier}/history": query(after=NUMBER, limit=NUMBER),
}


@pytest.mark.parametrize("path", ENDPOINTS)
def test_any_input_gets_a_documented_structured_answer(admin_app, path, cases):
    client = admin_app.test_client()
    operations = client.get("/openapi.json").json["paths"][path]
    method = "get" if "get" in operations else "post"
    documented = {int(status) for status in operations[method]["responses"]}
    if path.startswith("/api/holds/"):  # a hold to confirm or release
        made = client.post("/api/tickets/hold", json={"userId": "u1", "tier": "VIP", "quantity": 1}).json["holdId"]
    else:
        made = book(client).json["bookingId"]
    url = path.format(booking_id=made, hold_id=made, tier="VIP")
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=ENDPOINTS[path])
    def answers(data):
        if method == "get":
            response = client.get(url, query_string=data, headers=headers)
        else:
            response = client.post(url, data=json.dumps(data), content_type="application/json", headers=headers)
        cases[f"{method.upper()} {path} {response.status_code}"] += 1
        assert response.status_code in documented, response.json
        assert ("error" in response.json) == (response.status_code >= 400)
        tiers = client.get("/api/tickets").json
        assert all(0 <= t["availableQuantity"] <= t["capacity"] for t in tiers)

    answers()
