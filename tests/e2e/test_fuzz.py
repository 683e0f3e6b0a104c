"""No request content can make the API fail with a 500 or write half a booking."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "userId": JSON | st.text(max_size=80),
        "tier": JSON | st.sampled_from(["VIP", "GA", "vip", ""]),
        "quantity": JSON | st.integers(-3, 12),
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=FIELDS | JSON)
def test_any_json_body_gets_a_structured_answer(client, body):
    for path in ("/api/tickets/book", "/api/bookings/00000000-0000-4000-8000-000000000000/cancel"):
        response = client.post(path, data=json.dumps(body), content_type="application/json")
        assert response.status_code in (201, 400, 404, 422), response.json
        assert ("error" in response.json) == (response.status_code != 201)
    tiers = client.get("/api/tickets").json
    assert all(0 <= t["availableQuantity"] <= t["capacity"] for t in tiers)
