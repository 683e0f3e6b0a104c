"""A client reads its own writes: a booking it was sent a 201 for is never "not found",
and a cancellation it was told of is never shown as confirmed, however far the read
tables lag; and a command that was recorded always answers its success."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import OperationalError

from scripts.harness.processes import call, gunicorn, run_projection_process, wait_for
from tests.e2e.conftest import book, make_app


@pytest.fixture
def unprojected_client(store_env):
    """A server whose read tables nobody brings up to date (PostgreSQL's projection
    process, infinitely slow)."""
    app = make_app(store_env, PROJECT_IN_PROCESS="no")
    yield app.test_client()
    app.extensions["services"].close()


def test_a_booking_and_its_cancellation_read_back_before_the_read_tables_have_them(unprojected_client):
    """The booking itself and the user's list."""
    booked = book(unprojected_client, "ann", "VIP", 2).json
    url = f"/api/bookings/{booked['bookingId']}"
    got = unprojected_client.get(url)
    assert (got.status_code, got.json["status"], got.json["quantity"]) == (200, "confirmed", 2)
    assert [b["bookingId"] for b in unprojected_client.get("/api/users/ann/bookings").json] == [booked["bookingId"]]
    unprojected_client.post(f"{url}/cancel", json={"userId": "ann"})
    assert unprojected_client.get(url).json["status"] == "cancelled"
    assert [b["status"] for b in unprojected_client.get("/api/users/ann/bookings").json] == ["cancelled"]


def test_a_booking_that_does_not_exist_is_still_not_found(unprojected_client):
    book(unprojected_client, "ann", "VIP", 1)  # the read tables lag: the answer comes from the ledger
    missing = unprojected_client.get("/api/bookings/6b0f7c57-4d6e-4c1f-9a51-5f1a2b3c4d5e")
    assert (missing.status_code, missing.json["error"]["code"]) == (404, "BOOKING_NOT_FOUND")


def test_a_recorded_booking_answers_201_though_the_read_tables_cannot_catch_up_then(store_env, monkeypatch):
    app = make_app(store_env)
    try:
        services = app.extensions["services"]
        catch_up = services.projector.catch_up

        def database_is_locked(*_, **__):
            raise OperationalError("database is locked")

        monkeypatch.setattr(services.projector, "catch_up", database_is_locked)
        client = app.test_client()
        booked = book(client, "ann", "VIP", 1)
        assert booked.status_code == 201
        monkeypatch.setattr(services.projector, "catch_up", catch_up)
        wait_for(
            lambda: client.get("/api/users/ann/bookings").json,
            timeout=10,
            what="the following thread to bring the read tables up to date",
        )
        assert client.get("/api/users/ann/bookings").json[0]["bookingId"] == booked.json["bookingId"]
    finally:
        app.extensions["services"].close()


@pytest.mark.postgres
@pytest.mark.slow
def test_on_two_real_servers_every_booking_and_cancellation_reads_back_at_once(postgres_env, tmp_path):
    """As the README runs it on PostgreSQL, gunicorn and the projection process, twice on one
    store: each write is answered by one server and read back from the other, the booking
    itself and the user's list, 200 times."""
    env = {**postgres_env, "DEMO_TIERS": "GA:10.00:1000", "BOOKING_RATE_LIMIT": ""}
    projecting = run_projection_process(env, open(tmp_path / "projections.log", "w"))
    try:
        with (
            gunicorn(env, open(tmp_path / "one.log", "w")) as (one, _),
            gunicorn(env, open(tmp_path / "other.log", "w")) as (other, _),
        ):
            answers = []
            for n in range(200):
                writer, reader = (one, other) if n % 2 else (other, one)
                booked = call(f"{writer}/api/tickets/book", {"userId": f"u{n}", "tier": "GA", "quantity": 1}).body
                for command in (None, "cancel"):
                    if command:
                        call(f"{writer}/api/bookings/{booked['bookingId']}/{command}", {"userId": f"u{n}"})
                    read = call(f"{reader}/api/bookings/{booked['bookingId']}")
                    listed = call(f"{reader}/api/users/u{n}/bookings").body
                    answers.append(
                        (
                            read.status,
                            read.body.get("status"),
                            [(b["bookingId"] == booked["bookingId"], b["status"]) for b in listed],
                        )
                    )
    finally:
        projecting.terminate()
        projecting.wait(timeout=30)
    assert answers == [(200, "confirmed", [(True, "confirmed")]), (200, "cancelled", [(True, "cancelled")])] * 200
