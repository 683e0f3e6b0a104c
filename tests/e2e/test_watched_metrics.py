"""What the alert rules read from ``/metrics`` beyond the counters: the waiting room's queue
while a room is on, and the counters still scraped while the store does not answer (the
lag is left out then, rather than the whole scrape failing), and the projection process's
own ``/metrics`` (``METRICS_BIND``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eventsourcing.persistence import OperationalError
from flask.testing import FlaskClient

from projections import Projector
from scripts.cluster.database import answers
from scripts.harness.processes import free_port, run_projection_process, scrape, stop, wait_for
from tests.e2e.conftest import ADMIN_TOKEN, make_app
from tests.e2e.test_observability import metric


@pytest.fixture
def room_client(store_env: dict[str, str]) -> Iterator[FlaskClient]:
    app = make_app(
        store_env,
        ADMIN_TOKEN=ADMIN_TOKEN,
        QUEUE_TERMS_SECONDS=0,
        QUEUE_TERMS_KEEP_SECONDS=0,
        QUEUE_STORAGE_URI="memory://",
    )
    yield app.test_client()
    app.extensions["services"].close()


def test_metrics_show_the_queue_waiting_and_the_rate_while_a_room_is_on(room_client):
    assert "waiting_room_waiting" not in room_client.get("/metrics").get_data(as_text=True)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert room_client.post("/api/admin/waiting-room", json={"rate": 0}, headers=auth).status_code == 201
    for user in ("ann", "bob", "cy"):
        assert room_client.post("/api/queue", json={"userId": user}).status_code == 201
    assert metric(room_client, "waiting_room_waiting ") == 3
    assert metric(room_client, "waiting_room_admission_rate ") == 0
    room_client.post("/api/admin/waiting-room/rate", json={"rate": 50}, headers=auth)
    assert metric(room_client, "waiting_room_admission_rate ") == 50


def test_metrics_answer_with_the_counters_while_the_store_does_not(client, monkeypatch):
    client.get("/api/tickets")

    def refused(self: Projector) -> int:
        raise OperationalError("the store does not answer")

    monkeypatch.setattr(Projector, "lag", refused)
    answer = client.get("/metrics")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert 'http_requests_total{method="GET",route="/api/tickets",status="200"}' in text
    assert "projection_lag" not in text


def test_the_projection_process_serves_its_lag_at_metrics_bind(store_env, tmp_path):
    bind = f"127.0.4.1:{free_port()}"
    with open(tmp_path / "projections.log", "w") as log:
        process = run_projection_process({**store_env, "METRICS_BIND": bind}, log)
        try:
            wait_for(lambda: answers(f"http://{bind}/metrics"), 60, "the projection process's /metrics")
            text = scrape(f"http://{bind}/metrics")
        finally:
            stop(process)
    assert "projection_lag_events 0.0" in text and "projection_lag_seconds 0.0" in text
    assert process.returncode == 0  # SIGTERM ends it cleanly, the metrics server with it
