"""The audience against the real servers at a small size: ``ticketledger serve`` and
``ticketledger projections`` on PostgreSQL, the waiting room in Redis, 200 users in two
client processes. Every figure of the report is checked against the store and the read
tables: the sale sells out exactly, each 201 is a booking the store has, every follower
hears the final figure, each waiting buyer costs the origin the one ticket stream it
follows, and nothing fails. (The counting itself, against chosen faults:
tests/integration/test_audience_accounting.py.)"""

from __future__ import annotations

import argparse

import pytest

from scripts.bench import audience
from scripts.harness.processes import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def arguments(*given: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    audience.add_arguments(parser)
    return parser.parse_args([*given, "--origin-port", str(free_port())])


def test_a_small_audience_with_the_waiting_room_adds_up_against_the_store():
    args = arguments("--buyers", "100", "--arrive", "3", "--sale", "3", "--settle", "30", "--workers", "2")
    args.room, args.room_rate = True, 40.0
    result = audience.one_run("origin", args, 200)
    assert result["users"] == 200 and result["workers"] == 2
    assert result["sold_out_and_balanced"], result["books"]
    assert result["sold_by_201s"] == result["books"]["confirmed"] == result["capacity"] == 80
    assert result["errors"] == {}
    assert result["followers_missed_the_end"] == 0
    assert result["statuses"]["page 200"] == result["statuses"]["list 200"] == 200
    assert result["statuses"]["join 201"] == 100
    waiting = result["waiting_requests_per_buyer"]
    assert waiting["max"] == 1  # each waiting buyer opened its ticket's stream once
    assert result["origin_ticket_requests"]["streams"] == waiting["buyers"]
    assert result["news_ms"]["n"] > 0 and result["origin_cpu_s"] > 0 and result["client_cpu_s"] > 0
