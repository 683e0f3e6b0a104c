"""What a partner would do: generate a Python client from the live ``/openapi.json`` with
``openapi-python-client``, then book, hold, confirm, release, cancel and list with it, and
administer tiers, against a real gunicorn server on each store.

The generated models are strict where the document is: a field it marks required must be
there, an enum value must be listed, a status must be documented (the client raises on any
other). So every call below that parses is the document and the server agreeing.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from tests.processes import clean_gunicorn

ADMIN_TOKEN = "generated-client-admin"
PACKAGE = "ledger_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
# No formatting step (it would need ruff on the PATH): the code is only imported.
CONFIG = f"package_name_override: {PACKAGE}\nproject_name_override: ledger-client\npost_hooks: []\n"
# The rate limit on (its headers are in the document), counted in Redis as several workers need.
SETTINGS = {
    "DEMO_TIERS": "VIP:100.00:5",
    "ADMIN_TOKEN": ADMIN_TOKEN,
    "PROJECT_IN_PROCESS": "yes",
    "BOOKING_RATE_LIMIT": "1000 per second",
    "RATE_LIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
    "SSE_MAX_SECONDS": "0.5",
}

pytestmark = pytest.mark.slow


@pytest.fixture
def server(store_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    with clean_gunicorn({**store_env, **SETTINGS, "RATELIMIT_KEY_PREFIX": uuid.uuid4().hex}, tmp_path) as base:
        yield base


@pytest.fixture
def api(server: str, tmp_path: Path) -> Iterator[SimpleNamespace]:
    """The generated package, imported: its modules by short name, and a client and an admin client."""
    (tmp_path / "config.yaml").write_text(CONFIG)
    generated = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--url",
            f"{server}/openapi.json",
            "--meta",
            "none",
            "--config",
            str(tmp_path / "config.yaml"),
            "--output-path",
            str(tmp_path / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout + generated.stderr
    sys.path.insert(0, str(tmp_path))
    try:

        def load(name: str) -> ModuleType:
            return importlib.import_module(f"{PACKAGE}.{name}")

        client = load("client")
        modules = {
            name.rsplit(".", 1)[-1]: load(name)
            for name in (
                "api.tickets.get_api_tickets",
                "api.tickets.post_api_tickets_book",
                "api.tickets.get_api_tickets_stream",
                "api.holds.post_api_tickets_hold",
                "api.holds.post_api_holds_hold_id_confirm",
                "api.holds.post_api_holds_hold_id_release",
                "api.bookings.post_api_bookings_booking_id_cancel",
                "api.bookings.get_api_users_user_id_bookings",
                "api.bookings.get_api_bookings_booking_id",
                "api.tiers.get_api_tiers_tier",
                "api.tiers.get_api_tiers_tier_history",
                "api.health.get_ready",
                "api.admin.post_api_admin_tiers",
                "api.admin.post_api_admin_tiers_tier_capacity",
                "api.admin.post_api_admin_tiers_tier_close",
                "api.admin.get_api_admin_tiers_tier_history",
                "api.booking_tickets.get_api_bookings_booking_id_tickets",
                "api.checkin.post_api_checkin",
                "api.checkin.post_api_checkin_uploads",
                "api.checkin.get_api_checkin_tickets",
                "api.orders.post_api_orders",
                "api.orders.get_api_orders_order_id",
                "api.events.get_api_events",
                "api.events.get_api_events_event_id_tickets",
                "api.events_admin.post_api_admin_events",
                "models",
            )
        }
        yield SimpleNamespace(
            **modules,
            client=client.Client(base_url=server, raise_on_unexpected_status=True),
            admin=client.AuthenticatedClient(base_url=server, token=ADMIN_TOKEN, raise_on_unexpected_status=True),
        )
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def test_a_generated_client_books_holds_confirms_cancels_and_lists(api: SimpleNamespace) -> None:
    m, c = api.models, api.client
    (vip,) = api.get_api_tickets.sync(client=c)
    assert (vip.tier, vip.price, vip.available_quantity, vip.on_sale) == ("VIP", "100.00", 5, True)

    alice = m.BookRequest(user_id="alice", tier="VIP", quantity=2)
    booked = api.post_api_tickets_book.sync_detailed(
        client=c, body=alice, idempotency_key="order-1", x_request_id="generated-1"
    )
    assert booked.status_code == 201 and booked.headers["X-Request-ID"] == "generated-1"
    assert booked.headers["X-RateLimit-Limit"] == "1000"
    receipt = booked.parsed
    assert (receipt.booked_quantity, receipt.remaining_quantity, receipt.status) == (
        2,
        3,
        m.BookReceiptStatus.CONFIRMED,
    )

    hold = api.post_api_tickets_hold.sync(client=c, body=m.BookRequest(user_id="alice", tier="VIP", quantity=1))
    assert (hold.held_quantity, hold.remaining_quantity, hold.status) == (1, 2, m.HoldReceiptStatus.HELD)
    confirmed = api.post_api_holds_hold_id_confirm.sync(str(hold.hold_id), client=c, body=m.CancelRequest("alice"))
    assert (confirmed.booking_id, confirmed.status) == (hold.hold_id, m.BookingStatus.CONFIRMED)
    assert confirmed.expires_at == hold.expires_at

    other = api.post_api_tickets_hold.sync(client=c, body=m.BookRequest(user_id="alice", tier="VIP", quantity=1))
    released = api.post_api_holds_hold_id_release.sync(str(other.hold_id), client=c, body=m.CancelRequest("alice"))
    assert released.status == m.BookingStatus.RELEASED

    cancelled = api.post_api_bookings_booking_id_cancel.sync(
        str(receipt.booking_id), client=c, body=m.CancelRequest("alice")
    )
    assert cancelled.status == m.BookingStatus.CANCELLED and cancelled.expires_at is None
    # The same booking request again, under its key: the booking as it is now, cancelled.
    again = api.post_api_tickets_book.sync(client=c, body=alice, idempotency_key="order-1")
    assert (again.booking_id, again.status) == (receipt.booking_id, m.BookReceiptStatus.CANCELLED)

    listed = api.get_api_users_user_id_bookings.sync("alice", client=c)
    assert [(b.booking_id, b.status) for b in listed] == [
        (other.hold_id, m.BookingStatus.RELEASED),
        (hold.hold_id, m.BookingStatus.CONFIRMED),
        (receipt.booking_id, m.BookingStatus.CANCELLED),
    ]
    assert api.get_api_bookings_booking_id.sync(str(hold.hold_id), client=c).to_dict() == listed[1].to_dict()

    refused = api.post_api_tickets_book.sync_detailed(client=c, body=m.BookRequest("bob", "VIP", 9))
    assert (refused.status_code, refused.parsed.error.code) == (422, "INSUFFICIENT_TICKETS")
    assert refused.headers["X-RateLimit-Remaining"].isdigit()


def test_a_generated_client_reads_a_tier_its_history_and_the_stream(api: SimpleNamespace) -> None:
    m, c = api.models, api.client
    api.post_api_tickets_book.sync(client=c, body=m.BookRequest(user_id="carol", tier="VIP", quantity=1))
    now = api.get_api_tiers_tier.sync("VIP", client=c)
    then = api.get_api_tiers_tier.sync("VIP", client=c, at_version=1)
    assert (now.version, now.sold, now.available_quantity, then.sold, then.currency) == (
        2,
        1,
        4,
        0,
        m.TierStateCurrency.USD,
    )
    both = api.get_api_tiers_tier.sync_detailed("VIP", client=c, at_version=1, at_time=now.as_of)
    assert (both.status_code, both.parsed.error.details[0].path) == (400, "atTime")
    history = api.get_api_tiers_tier_history.sync("VIP", client=c, limit=1)
    assert ([line.event for line in history.items], history.next_after) == (["Created"], 1)
    assert "bookingId" not in history.items[0].to_dict()  # whose booking it was: the admin's view only
    full = api.get_api_admin_tiers_tier_history.sync("VIP", client=api.admin, after=1)
    assert ([line.event for line in full.items], full.items[0].user_id) == (["TicketsBooked"], "carol")

    stream = api.get_api_tickets_stream.sync(client=c)  # ends after SSE_MAX_SECONDS
    assert stream.startswith("retry: 1000\n\ndata: [{") and '"availableQuantity":4' in stream
    assert api.get_ready.sync(client=c).status == m.ReadyStatus.READY


def test_a_generated_admin_client_creates_a_tier_adds_capacity_and_closes_sales(api: SimpleNamespace) -> None:
    m, admin = api.models, api.admin
    created = api.post_api_admin_tiers.sync(client=admin, body=m.NewTier(tier="GA", price="10.00", capacity=2))
    assert (created.tier, created.capacity, created.per_user_limit, created.on_sale) == ("GA", 2, None, True)
    added = api.post_api_admin_tiers_tier_capacity.sync("GA", client=admin, body=m.Quantity(3))
    assert (added.capacity, added.available_quantity, added.version) == (5, 5, 2)
    closed = api.post_api_admin_tiers_tier_close.sync("GA", client=admin)
    assert (closed.on_sale, closed.version) == (False, 3)

    refused = api.post_api_tickets_book.sync_detailed(client=api.client, body=m.BookRequest("dave", "GA", 1))
    assert (refused.status_code, refused.parsed.error.code) == (409, "SALES_CLOSED")
    intruder = api.client.with_headers({"Authorization": "Bearer wrong"})
    denied = api.post_api_admin_tiers_tier_close.sync_detailed("GA", client=intruder)
    assert (denied.status_code, denied.parsed.error.code, denied.headers["WWW-Authenticate"]) == (
        401,
        "UNAUTHORIZED",
        "Bearer",
    )


def test_a_generated_client_shows_tickets_and_a_scanner_admits_them_once(api: SimpleNamespace) -> None:
    m, c, door = api.models, api.client, api.admin  # the admin token opens the door too
    receipt = api.post_api_tickets_book.sync(client=c, body=m.BookRequest(user_id="erin", tier="VIP", quantity=2))
    tickets = api.get_api_bookings_booking_id_tickets.sync(str(receipt.booking_id), client=c)
    assert [(t.seat, t.checked_in_at) for t in tickets] == [(0, None), (1, None)]
    assert tickets[0].qr_svg.startswith("<svg")
    admitted = api.post_api_checkin.sync(client=door, body=m.Scan(code=tickets[0].code, gate="north"))
    assert (admitted.ticket_id, admitted.user_id, admitted.gate) == (tickets[0].ticket_id, "erin", "north")
    again = api.post_api_checkin.sync_detailed(client=door, body=m.Scan(code=tickets[0].code, gate="south"))
    assert (again.status_code, again.parsed.error.code, again.parsed.error.details[1].message) == (
        409,
        "ALREADY_CHECKED_IN",
        "north",
    )
    scan = m.OfflineScan(scan_id="s-1", code=tickets[0].code, scanned_at=admitted.checked_in_at)
    merged = api.post_api_checkin_uploads.sync(client=door, body=m.Upload(gate="east", scans=[scan]))
    assert (merged.conflicts, merged.results[0].outcome, merged.results[0].first.gate) == (1, "conflict", "north")
    listed = api.get_api_checkin_tickets.sync(client=door)
    assert sorted((t.seat, t.checked_in) for t in listed.tickets) == [(0, True), (1, False)]
    unlocked = api.post_api_checkin.sync_detailed(client=c, body=m.Scan(code=tickets[1].code, gate="north"))
    assert unlocked.status_code == 401


def test_a_generated_client_orders_two_tiers_and_puts_an_event_on_sale(api: SimpleNamespace) -> None:
    m, c = api.models, api.client
    api.post_api_admin_tiers.sync(client=api.admin, body=m.NewTier(tier="GA", price="10.00", capacity=10))
    items = [m.Item(tier="VIP", quantity=1), m.Item(tier="GA", quantity=2)]
    placed = api.post_api_orders.sync_detailed(
        client=c, body=m.OrderRequest(user_id="fay", items=items), idempotency_key="o-1"
    )
    assert placed.status_code == 201, placed.content
    order = placed.parsed
    again = api.post_api_orders.sync(client=c, body=m.OrderRequest(user_id="fay", items=items), idempotency_key="o-1")
    assert (again.order_id, [i.tier for i in order.items]) == (order.order_id, ["VIP", "GA"])
    assert api.get_api_orders_order_id.sync(str(order.order_id), client=c).to_dict() == again.to_dict()
    short = api.post_api_orders.sync_detailed(client=c, body=m.OrderRequest("fay", [m.Item("VIP", 1), m.Item("GA", 9)]))
    assert (short.status_code, short.parsed.error.code) == (422, "INSUFFICIENT_TICKETS")

    tier = m.NewTier(tier="NYE_GA", price="40.00", capacity=10)
    created = api.post_api_admin_events.sync(
        client=api.admin, body=m.NewEvent(event_id="nye", name="NYE", tiers=[tier])
    )
    assert (created.event_id, created.capacity, created.on_sale_now) == ("nye", 10, True)
    assert [e.event_id for e in api.get_api_events.sync(client=c)] == ["main", "nye"]
    assert [t.tier for t in api.get_api_events_event_id_tickets.sync("nye", client=c)] == ["NYE_GA"]
