"""Webhook delivery: every event arrives, in order, signed, at least once; a retry is the
only source of a duplicate; a dead endpoint holds up nobody; admins pause, resume and
replay; an endpoint that keeps failing stops where it failed, and redirects are not followed."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

import pytest

from application import BookingLedger
from projections.integrations.outbox import Outbox
from projections.integrations.store import IntegrationTables
from projections.integrations.webhook_delivery import (
    DeliverySettings,
    EndpointWorker,
    WebhookDelivery,
)
from projections.integrations.webhooks import (
    SIGNATURE_HEADER,
    InvalidWebhookError,
    WebhookEndpoints,
    check_url,
    sign,
    verify,
)
from scripts.bench.webhook_receiver import BlackHole, Receiver
from scripts.harness.processes import ROOT, wait_for

FAST = DeliverySettings(timeout=2.0, backoff_base=0.01, backoff_cap=0.05, poll_interval=0.01)


@pytest.fixture
def outbox(ledger: BookingLedger) -> Outbox:
    ledger.create_tier("VIP", Decimal("1.00"), 1000)
    outbox = Outbox(ledger, IntegrationTables(ledger))
    outbox.catch_up()  # endpoints start after tier.created
    return outbox


@pytest.fixture
def endpoints(outbox: Outbox) -> WebhookEndpoints:
    return WebhookEndpoints(outbox.tables)


def documented_verify():
    """The ten lines in docs/integrations.md that verify a signature, as a receiver would copy them."""
    page = (ROOT / "docs" / "integrations.md").read_text()
    code = next(block.split("```", 1)[0] for block in page.split("```python\n")[1:] if "def verify" in block)
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - our own documentation
    return namespace["verify"]


class Running:
    """Threads a test starts; stopped and joined before the store closes (a thread still
    inside an SQLite call when its connection closes can crash the interpreter)."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self, target, *args) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()
        return thread

    def delivery(self, endpoints: WebhookEndpoints, settings: DeliverySettings = FAST) -> WebhookDelivery:
        delivery = WebhookDelivery(endpoints, settings, refresh=0.05)
        self.start(delivery.run, self.stop)
        return delivery

    def worker(
        self, endpoints: WebhookEndpoints, endpoint_id: str, settings: DeliverySettings = FAST
    ) -> threading.Thread:
        return self.start(EndpointWorker(endpoints, endpoint_id, settings, self.stop).run)


@pytest.fixture
def running() -> Iterator[Running]:
    running = Running()
    yield running
    running.stop.set()
    for thread in running.threads:
        thread.join(timeout=30)


def book(ledger: BookingLedger, outbox: Outbox, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        ledger.book(f"u{n}", "VIP", 1)
    outbox.catch_up()


def bodies(outbox: Outbox, after: int = 0) -> list[str]:
    return [e.body for e in outbox.tables.notices_after(after, 100_000)]


def test_a_receiver_failing_now_and_then_gets_every_event_in_order_signed_and_only_retries_twice(
    ledger, outbox, endpoints, running
):
    failing = {0, 1, 2, 7, 8, 15}  # the first three requests, then two and one more
    with Receiver(fail=lambda n: n in failing) as receiver:
        endpoint = endpoints.add(receiver.url)
        book(ledger, outbox, 20)
        running.worker(endpoints, endpoint.endpoint_id)
        head = outbox.tables.head()
        wait_for(lambda: endpoints.get(endpoint.endpoint_id).position == head, what="20 deliveries")
        running.stop.set()
        expected = bodies(outbox, endpoint.position)
        assert receiver.accepted() == expected  # all of them, in order, each accepted once
        requests = receiver.requests
        assert len(requests) == 20 + len(failing)
        assert all(verify(endpoint.secret, r.body, r.headers[SIGNATURE_HEADER]) for r in requests)
        assert all(documented_verify()(endpoint.secret, r.body.encode(), r.headers[SIGNATURE_HEADER]) for r in requests)
        # A duplicate is a retry of the event that was refused, right after the refusal.
        sent = Counter(r.body for r in requests)
        retried = [requests[n].body for n in sorted(failing)]
        assert {body: count - 1 for body, count in sent.items() if count > 1} == Counter(retried)
        assert all(requests[n + 1].body == requests[n].body for n in failing)
        log = endpoints.deliveries(endpoint.endpoint_id, limit=100)
        assert len(log) == len(requests) and sum(a.delivered for a in log) == 20
        assert {a.status_code for a in log if not a.delivered} == {500}


def test_an_endpoint_gets_only_its_event_types(ledger, outbox, endpoints, running):
    with Receiver() as receiver:
        endpoint = endpoints.add(receiver.url, ["booking.cancelled", "tier.sold_out"])
        ledger.add_capacity("VIP", 1)
        receipt = ledger.book("u1", "VIP", 1)
        ledger.cancel(receipt.booking_id, "u1")
        outbox.catch_up()
        running.worker(endpoints, endpoint.endpoint_id)
        wait_for(lambda: len(receiver.accepted()) == 1)
        assert json.loads(receiver.accepted()[0])["type"] == "booking.cancelled"


def test_a_dead_endpoint_with_ten_thousand_queued_events_holds_up_no_other(ledger, outbox, endpoints, running):
    ledger.add_capacity("VIP", 20_000)
    threads = [threading.Thread(target=book, args=(ledger, outbox, 500, 500 * t)) for t in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outbox.catch_up()
    with BlackHole() as dead_url, Receiver() as healthy:
        dead = endpoints.replay(endpoints.add(dead_url).endpoint_id, after=0)  # 10,000 events queued for it
        live = endpoints.add(healthy.url)
        assert len(outbox.tables.notices_after(dead.position, 20_000)) > 10_000
        running.delivery(
            endpoints, DeliverySettings(timeout=1.0, backoff_base=0.05, backoff_cap=0.2, poll_interval=0.01)
        )
        wait_for(lambda: endpoints.deliveries(dead.endpoint_id), what="the dead endpoint's first attempt")
        book(ledger, outbox, 50, start=10_000)
        wait_for(lambda: len(healthy.accepted()) == 50, timeout=30, what="the healthy endpoint's 50 deliveries")
        assert healthy.accepted() == bodies(outbox, live.position)
        assert endpoints.get(dead.endpoint_id).position == 0  # still retrying its first event
        assert not any(a.delivered for a in endpoints.deliveries(dead.endpoint_id))


def test_two_delivery_processes_deliver_each_event_once_in_order(ledger, outbox, endpoints, running):
    with Receiver() as receiver:
        endpoint = endpoints.add(receiver.url)
        for _ in range(2):  # as two projection processes would
            running.delivery(endpoints)
        for n in range(4):
            book(ledger, outbox, 10, start=10 * n)
            time.sleep(0.1)
        head = outbox.tables.head()
        wait_for(lambda: endpoints.get(endpoint.endpoint_id).position == head, what="every delivery")
        assert receiver.accepted() == bodies(outbox, endpoint.position)
        assert len(receiver.requests) == 40


def test_a_dead_workers_lease_lapses_and_another_carries_on(ledger, outbox, endpoints, running):
    with Receiver() as receiver:
        endpoint = endpoints.add(receiver.url)
        assert endpoints.lease(endpoint.endpoint_id, "a worker that died", seconds=0.5) == endpoint.position
        book(ledger, outbox, 3)
        settings = dataclasses.replace(FAST, lease_seconds=0.5)
        running.worker(endpoints, endpoint.endpoint_id, settings)
        time.sleep(0.3)
        assert receiver.requests == []  # the lease still runs
        wait_for(lambda: len(receiver.accepted()) == 3, timeout=5)


def test_pause_holds_deliveries_resume_carries_on_and_replay_sends_again(ledger, outbox, endpoints, running):
    with Receiver() as receiver:
        endpoint = endpoints.add(receiver.url)
        book(ledger, outbox, 3)
        delivery = running.delivery(endpoints)
        wait_for(lambda: len(receiver.accepted()) == 3)
        # Delivery is at least once: paused between a receiver's 2xx and its position being
        # recorded, the notices are sent again on resume. Paused once it is recorded, none is.
        third = outbox.tables.notices_after(endpoint.position, 10)[2].position
        wait_for(lambda: endpoints.get(endpoint.endpoint_id).position == third, what="the position recorded")
        endpoints.pause(endpoint.endpoint_id)
        wait_for(lambda: not delivery.workers[endpoint.endpoint_id].is_alive(), what="the worker to stop")
        book(ledger, outbox, 2, start=3)
        assert len(receiver.accepted()) == 3 and endpoints.get(endpoint.endpoint_id).status == "paused"
        endpoints.resume(endpoint.endpoint_id)
        wait_for(lambda: len(receiver.accepted()) == 5)
        second = outbox.tables.notices_after(endpoint.position, 10)[1].position
        endpoints.replay(endpoint.endpoint_id, after=second)
        wait_for(lambda: len(receiver.accepted()) == 8)
        assert receiver.accepted() == bodies(outbox, endpoint.position) + bodies(outbox, second)


def test_an_endpoint_failing_past_the_retry_time_stops_there_and_resumes_from_there(ledger, outbox, endpoints, running):
    broken = True
    with Receiver(fail=lambda n: broken) as receiver:
        endpoint = endpoints.add(receiver.url)
        book(ledger, outbox, 3)
        settings = DeliverySettings(
            timeout=1.0, retry_seconds=0.3, backoff_base=0.02, backoff_cap=0.05, poll_interval=0.01
        )
        worker = running.worker(endpoints, endpoint.endpoint_id, settings)
        worker.join(timeout=10)
        failing = endpoints.get(endpoint.endpoint_id)
        assert not worker.is_alive() and failing.status == "failing" and failing.position == endpoint.position
        assert "HTTP 500" in failing.status_reason and len(receiver.requests) > 2
        broken = False
        endpoints.resume(endpoint.endpoint_id)
        running.worker(endpoints, endpoint.endpoint_id, settings)
        wait_for(lambda: len(receiver.accepted()) == 3)
        assert receiver.accepted() == bodies(outbox, endpoint.position)


def test_a_redirect_is_a_failed_attempt_and_is_not_followed(ledger, outbox, endpoints, running):
    with Receiver() as elsewhere, Receiver(fail=lambda n: n == 0, redirect="") as receiver:
        receiver.redirect = elsewhere.url
        endpoint = endpoints.add(receiver.url)
        book(ledger, outbox, 1)
        running.worker(endpoints, endpoint.endpoint_id)
        wait_for(lambda: len(receiver.accepted()) == 1)
        assert elsewhere.requests == [] and receiver.requests[0].status == 302
        assert endpoints.deliveries(endpoint.endpoint_id)[-1].status_code == 302


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "http://",
        "https:///path",
        "javascript:alert(1)",
        "http://host:99999/",
        "example.com/hook",
    ],
)
def test_only_http_and_https_urls_with_a_host_are_accepted(url):
    with pytest.raises(InvalidWebhookError):
        check_url(url)


def test_the_documented_verify_checks_body_secret_and_age():
    documented = documented_verify()
    now = int(time.time())
    assert documented("whsec_x", b'{"id":"1"}', sign("whsec_x", '{"id":"1"}', now))
    assert not documented("whsec_y", b'{"id":"1"}', sign("whsec_x", '{"id":"1"}', now))
    assert not documented("whsec_x", b'{"id":"2"}', sign("whsec_x", '{"id":"1"}', now))
    assert not documented("whsec_x", b'{"id":"1"}', sign("whsec_x", '{"id":"1"}', now - 301))
    assert not documented("whsec_x", b'{"id":"1"}', "v1=abc")


def test_a_signature_checks_body_secret_and_age():
    header = sign("whsec_x", '{"id":"1"}', 1_800_000_000)
    assert verify("whsec_x", '{"id":"1"}', header, now=1_800_000_100)
    assert not verify("whsec_y", '{"id":"1"}', header, now=1_800_000_100)
    assert not verify("whsec_x", '{"id":"2"}', header, now=1_800_000_100)
    assert not verify("whsec_x", '{"id":"1"}', header, now=1_800_000_301)
    assert not verify("whsec_x", '{"id":"1"}', "v1=abc", now=1_800_000_000)
