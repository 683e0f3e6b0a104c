"""The real server: gunicorn workers starting together against one PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from application import BookingLedger

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, body: dict | None = None) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def wait_until_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, "gunicorn exited"
        try:
            call(url)
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("gunicorn did not answer")


@pytest.mark.postgres
@pytest.mark.slow
def test_eight_workers_start_together_and_create_each_demo_tier_once(postgres_env, tmp_path):
    port = free_port()
    env = {**os.environ, **postgres_env, "BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "8",
           "PROJECT_IN_PROCESS": "yes", "DEMO_TIERS": "VIP:100.00:100,GA:10.00:1000", "BOOKING_RATE_LIMIT": ""}
    log = open(tmp_path / "gunicorn.log", "w+")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/health", server)
        statuses = [call(f"{base}/api/tickets/book", {"userId": f"u{n}", "tier": "VIP", "quantity": 1})[0]
                    for n in range(16)]
        status, tiers = call(f"{base}/api/tickets")
        scrapes = [scrape(f"{base}/metrics") for _ in range(8)]  # answered by various workers
    finally:
        server.terminate()
        server.wait(timeout=30)
    log.seek(0)
    output = log.read()
    assert "Traceback" not in output and "Worker failed" not in output, output
    assert statuses == [201] * 16
    assert (status, [(t["tier"], t["availableQuantity"]) for t in tiers]) == (200, [("GA", 1000), ("VIP", 84)])
    with BookingLedger(env=postgres_env) as ledger:
        created = [n for n in ledger.recorder.select_notifications(1, 1000) if n.topic.endswith("TicketTier.Created")]
    assert len(created) == 2
    assert all('ledger_bookings_total{tier="VIP"} 16.0' in text for text in scrapes)
