"""``ticketledger webhooks`` and ``ticketledger feed``, run as the installed command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from decimal import Decimal

from application import BookingLedger
from projections.integrations.store import IntegrationTables
from projections.integrations.webhooks import WebhookEndpoints
from tests.cli import ROOT, TICKETLEDGER, ticketledger


def run(*args: str, env: dict[str, str]) -> str:
    result = ticketledger(*args, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_an_admin_adds_lists_pauses_resumes_and_replays_an_endpoint(store_env):
    added = run(
        "webhooks",
        "add",
        "https://crm.example.com/hooks",
        "--events",
        "booking.confirmed,booking.cancelled",
        "--secret",
        "whsec_chosen_in_the_test",
        env=store_env,
    )
    endpoint_id = added.split()[1]
    assert endpoint_id.startswith("we_") and "whsec_chosen_in_the_test" in added
    listed = [json.loads(line) for line in run("webhooks", "list", "--json", env=store_env).splitlines()]
    assert [(e["endpoint_id"], e["status"], e["event_types"]) for e in listed] == [
        (endpoint_id, "active", "booking.confirmed,booking.cancelled")
    ]
    assert "secret" not in listed[0]
    assert "paused" in run("webhooks", "pause", endpoint_id, env=store_env)
    assert "active" in run("webhooks", "resume", endpoint_id, env=store_env)
    run("webhooks", "replay", endpoint_id, "--after", "0", env=store_env)
    with BookingLedger(env=store_env) as ledger:
        endpoint = WebhookEndpoints(IntegrationTables(ledger)).get(endpoint_id)
    assert (endpoint.status, endpoint.position, endpoint.secret) == ("active", 0, "whsec_chosen_in_the_test")
    table = run("webhooks", "list", env=store_env).splitlines()
    assert table[0].split() == ["endpoint_id", "status", "position", "event_types", "url"] and endpoint_id in table[1]


def test_webhooks_refuse_a_bad_url_and_an_unknown_endpoint(store_env):
    refused = ticketledger("webhooks", "add", "ftp://example.com", env=store_env)
    assert refused.returncode == 1 and "http:// or https://" in refused.stderr
    missing = ticketledger("webhooks", "pause", "we_nope", env=store_env)
    assert missing.returncode == 1 and "No webhook endpoint 'we_nope'" in missing.stderr


def test_feed_prints_every_event_and_follow_prints_new_ones_as_they_come(store_env):
    with BookingLedger(env=store_env) as ledger:
        ledger.create_tier("VIP", Decimal("1.00"), 10)
        ledger.book("alice", "VIP", 2)
        everything = [json.loads(line) for line in run("feed", env=store_env).splitlines()]
        assert [e["type"] for e in everything] == ["tier.created", "booking.confirmed"]
        assert run("feed", "--after", str(everything[0]["position"]), env=store_env).splitlines() == [
            json.dumps(everything[1], separators=(",", ":"))
        ]
        follower = subprocess.Popen(
            [str(TICKETLEDGER), "feed", "--follow", "--after", str(everything[-1]["position"])],
            cwd=ROOT,
            env={**os.environ, **store_env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            ledger.book("bob", "VIP", 8)  # the last tickets: booking.confirmed, then tier.sold_out
            lines = [json.loads(follower.stdout.readline()) for _ in range(2)]
        finally:
            follower.send_signal(signal.SIGINT)
            follower.wait(timeout=20)
        assert [(e["type"], e["userId"]) for e in lines] == [("booking.confirmed", "bob"), ("tier.sold_out", None)]
        assert follower.returncode == 0
