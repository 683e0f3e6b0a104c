"""The real ``python -m projections`` delivers webhooks and sends emails, and killed
with SIGKILL mid-stream it resumes from its positions: nothing is lost, and the only
repeats are the deliveries not yet committed (one run of them, sent twice) and the one
email in flight at the kill."""

from __future__ import annotations

import json
import signal
import threading
from collections import Counter
from decimal import Decimal

import pytest

from application import BookingLedger
from projections.integrations.emails import EmailSender
from projections.integrations.store import IntegrationTables
from projections.integrations.webhooks import SIGNATURE_HEADER, WebhookEndpoints, verify
from scripts.bench.webhook_receiver import Receiver
from scripts.harness.processes import run_projection_process, wait_for
from tests.integration.smtp_inbox import smtp_inbox

BOOKINGS = 150


@pytest.mark.slow
def test_a_killed_delivery_process_resumes_from_its_positions_and_loses_nothing(store_env):
    with BookingLedger(env=store_env) as ledger, Receiver() as receiver, smtp_inbox() as (inbox, smtp):
        ledger.create_tier("VIP", Decimal("1.00"), 10_000)
        tables = IntegrationTables(ledger)
        endpoint = WebhookEndpoints(tables).add(receiver.url)
        env = {
            **store_env,
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": str(smtp.port),
            "SMTP_SECURITY": "none",
            "EMAIL_FROM": smtp.sender,
            "EMAIL_TO": smtp.recipient,
            "EMAIL_CLAIM_SECONDS": "1",
            "WEBHOOK_LEASE_SECONDS": "2",
        }
        process = run_projection_process(env)
        wait_for(lambda: tables.position("emails") is not None, what="emails to start")
        booking = threading.Thread(target=lambda: [ledger.book(f"u{n}", "VIP", 1) for n in range(BOOKINGS)])
        booking.start()
        try:
            wait_for(lambda: len(receiver.accepted()) >= 30, what="30 deliveries")
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            killed_at = len(receiver.accepted())
            booking.join()
            process = run_projection_process(env)
            wait_for(
                lambda: len({json.loads(b)["id"] for b in receiver.accepted()}) == BOOKINGS + 1,
                timeout=60,
                what="every delivery",
            )  # tier.created comes before the endpoint: not sent
            wait_for(lambda: len(set(inbox.message_ids())) == BOOKINGS, timeout=60, what="every email")
        finally:
            process.send_signal(signal.SIGTERM)
            _, log = process.communicate(timeout=30)
        assert process.returncode == 0, log
        assert killed_at < BOOKINGS, "the kill came too late to interrupt anything"
        expected = [e.body for e in tables.notices_after(endpoint.position, 10_000)]
        accepted = receiver.accepted()
        assert list(dict.fromkeys(accepted)) == expected  # every event, first arrivals in order
        assert all(verify(endpoint.secret, r.body, r.headers[SIGNATURE_HEADER]) for r in receiver.requests)
        # Sent twice: only what was delivered but not yet committed (at most 50 ms of it) at the kill.
        again = [n for n, body in enumerate(expected) if Counter(accepted)[body] > 1]
        assert again == list(range(again[0], again[0] + len(again))) if again else True
        assert all(Counter(accepted)[body] == 2 for body in (expected[n] for n in again))
        assert sum(n - 1 for n in Counter(inbox.message_ids()).values()) <= 1
        assert {s["state"] for s in EmailSender(tables, smtp).sends()} == {"sent"}
