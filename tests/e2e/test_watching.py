"""The watch end to end, on loopback (127.0.4.x): a real Prometheus scrapes a real web host
(``ticketledger serve``, two gunicorn workers) with the topology's rules, a real
Alertmanager routes to the project's webhook receiver, and the receiver's record is read.
The web host is killed as a host that loses power: its alert reaches the receiver within a
minute, and its resolution once the host serves again. The fault is the host's, not the
store's, so the host runs on the SQLite default."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from scripts.cluster.alert_receiver import received
from scripts.cluster.watching import Watch
from scripts.harness.processes import ROOT, free_port, kill_group, stop, wait_for, wait_until_up

pytestmark = pytest.mark.slow


def web_host(bind: str, folder: Path) -> subprocess.Popen:
    env = {
        "BIND": bind,
        "SQLITE_DBNAME": str(folder / "ledger.sqlite3"),
        "DEMO_TIERS": "VIP:100.00:100",
        "GUNICORN_WORKERS": "2",
        "BOOKING_RATE_LIMIT": "",  # two workers would need a shared store for the limits
        "ADMIN_AUTH_RATE_LIMIT": "",
        "TMPDIR": str(folder),  # the metrics folder of a killed host stays there
    }
    with open(folder / "web.log", "ab") as log:
        host = subprocess.Popen(
            [str(Path(sys.executable).parent / "ticketledger"), "serve"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_until_up(f"http://{bind}/health", host, 60)
    return host


def notices(watch: Watch, alert: str, status: str) -> list[float]:
    """When the receiver got a notice that ``alert`` is ``status`` (firing or resolved)."""
    return [
        entry["received"]
        for entry in received(watch.record)
        for sent in entry["notice"]["alerts"]
        if sent["labels"]["alertname"] == alert and sent["status"] == status
    ]


def test_a_killed_web_host_fires_its_alert_at_the_receiver_within_a_minute_and_resolves(tmp_path):
    host = f"127.0.4.{random.randint(2, 250)}"
    bind = f"{host}:{free_port()}"
    watch = Watch(tmp_path / "watch", host, {"web": [bind]})
    watch.configure()
    processes = [watch.start(p) for p in watch.processes()]
    server = None
    try:
        server = web_host(bind, tmp_path)
        wait_for(watch.ready, 60, "Prometheus and Alertmanager")
        wait_for(lambda: scraped_up(watch), 60, "a healthy scrape of the web host")
        assert received(watch.record) == []

        killed = time.time()
        kill_group(server)
        wait_for(lambda: notices(watch, "WebHostDown", "firing"), 90, "WebHostDown at the receiver")
        fired = notices(watch, "WebHostDown", "firing")[0] - killed
        print(f"WebHostDown reached the receiver {fired:.1f} s after the kill")
        assert fired < 60
        assert notices(watch, "WebServiceDown", "firing")  # it was the only host
        assert not notices(watch, "WebHostDown", "resolved")

        server = web_host(bind, tmp_path)
        back = time.time()
        wait_for(lambda: notices(watch, "WebHostDown", "resolved"), 90, "WebHostDown resolved at the receiver")
        print(f"...and resolved {notices(watch, 'WebHostDown', 'resolved')[0] - back:.1f} s after it served again")
        firing = {sent["labels"]["alertname"] for entry in received(watch.record) for sent in entry["notice"]["alerts"]}
        assert firing == {"WebHostDown", "WebServiceDown"}
    finally:
        for process in [*processes, *([server] if server else [])]:
            stop(process)


def scraped_up(watch: Watch) -> bool:
    """Prometheus has scraped the web host, healthily."""
    query = urllib.parse.quote('up{job="web"}')
    with urllib.request.urlopen(f"{watch.prometheus}/api/v1/query?query={query}", timeout=5) as answer:
        result = json.load(answer)["data"]["result"]
    return bool(result) and result[0]["value"][1] == "1"
