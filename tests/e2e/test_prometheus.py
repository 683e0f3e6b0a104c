"""/metrics as Prometheus itself reads it, from the real server on both stores: Debian's
``promtool check metrics`` accepts it, a real Prometheus server scrapes it healthily,
made-up methods and paths add no series, and the server leaves no metrics folder behind."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from scripts.harness.processes import call, free_port, gunicorn, scrape, wait_for

pytestmark = pytest.mark.slow

SETTINGS = {
    "DEMO_TIERS": "VIP:100.00:100",
    "BOOKING_RATE_LIMIT": "",
    "GUNICORN_WORKERS": "2",
    "PROJECT_IN_PROCESS": "yes",
}


def exercise(base: str) -> None:
    """Bookings, reads, errors, a made-up method and an unknown path, answered by both workers."""
    for n in range(6):
        call(f"{base}/api/tickets/book", {"userId": f"u{n}", "tier": "VIP", "quantity": 1})
        call(f"{base}/api/tickets")
        call(f"{base}/nowhere/{n}")
        send(base, f"FOO{n}", "/health")


def send(base: str, method: str, path: str) -> int:
    request = urllib.request.Request(base + path, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def promtool(text: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)


def test_promtool_accepts_the_metrics_of_the_real_server(store_env, tmp_path):
    with open(tmp_path / "gunicorn.log", "w+") as log, gunicorn({**store_env, **SETTINGS}, log) as (base, _):
        exercise(base)
        texts = [scrape(f"{base}/metrics") for _ in range(6)]  # answered by both workers, more than once each
    for text in texts:
        checked = promtool(text)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert text.count("# HELP projection_lag_events ") == 1
    methods, routes = (set(re.findall(f'{label}="([^"]*)"', texts[-1])) for label in ("method", "route"))
    assert methods == {"GET", "POST", "other"}
    assert "unmatched" in routes and all(route.startswith("/") or route == "unmatched" for route in routes)
    assert not [route for route in routes if route.startswith("/nowhere")]


def test_made_up_methods_and_paths_add_no_series(client):
    series = 'http_requests_total{method="other",route="unmatched",status="405"}'
    before = sample(client.get("/metrics").get_data(as_text=True), series)  # counters are per process
    for n in range(50):
        client.open("/health", method=f"X{n}")
        client.get(f"/nowhere/{n}")
    text = client.get("/metrics").get_data(as_text=True)
    assert "X49" not in text and "/nowhere" not in text
    assert sample(text, series) == before + 50


def sample(text: str, series: str) -> float:
    """The value of one series in Prometheus text (0 if absent)."""
    found = re.search(re.escape(series) + r" (\S+)", text)
    return float(found.group(1)) if found else 0.0


def test_a_real_prometheus_scrapes_the_real_server_healthily(store_env, tmp_path):
    with open(tmp_path / "gunicorn.log", "w+") as log, gunicorn({**store_env, **SETTINGS}, log) as (base, _):
        exercise(base)
        with prometheus(base.removeprefix("http://"), tmp_path) as api:
            try:
                wait_for(lambda: scraped(api, times=3), timeout=90, what="three scrapes, the last one healthy")
            finally:
                print("Prometheus's targets:", targets(api))  # shown when it fails: the scrape's last error
                log.seek(0)
                print("The server's log, last lines:", *log.read().splitlines()[-40:], sep="\n")
            (target,) = targets(api)
            assert (target["health"], target["lastError"]) == ("up", "")
            sold = query(api, 'sum(ledger_tickets_sold_total{tier="VIP"})')
            assert [float(sample["value"][1]) for sample in sold] == [6.0]
            lag = query(api, "projection_lag_events")
            assert [sample["metric"] for sample in lag] == [
                {"__name__": "projection_lag_events", "instance": target["labels"]["instance"], "job": "ledger"}
            ]


def test_the_server_removes_the_metrics_folder_it_made(store_env, tmp_path):
    folder = tmp_path / "tmp"
    folder.mkdir()
    env = {**store_env, **SETTINGS, "TMPDIR": str(folder), "PROMETHEUS_MULTIPROC_DIR": ""}
    with open(tmp_path / "gunicorn.log", "w+") as log, gunicorn(env, log) as (base, _):
        call(f"{base}/api/tickets")
        assert [p.name.startswith("ledger-metrics-") for p in folder.iterdir()] == [True]
    assert list(folder.iterdir()) == []


class prometheus:
    """Debian's Prometheus server on a free loopback port, scraping ``target`` every
    5 seconds, with its own configuration and data folder under ``folder``."""

    def __init__(self, target: str, folder: Path) -> None:
        self.port = free_port()
        config = folder / "prometheus.yml"
        config.write_text(
            json.dumps(
                {  # JSON is YAML
                    # A scrape may take up to 5 s (generous: /metrics answers in milliseconds, but a
                    # loaded CI machine once took longer than 2 s and three scrapes never came).
                    "global": {"scrape_interval": "5s", "scrape_timeout": "5s"},
                    "scrape_configs": [{"job_name": "ledger", "static_configs": [{"targets": [target]}]}],
                }
            )
        )
        self.command = [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        self.log = open(folder / "prometheus.log", "w+")

    def __enter__(self) -> str:
        self.process = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT)
        api = f"http://127.0.0.1:{self.port}/api/v1"
        wait_for(
            lambda: self.process.poll() is None and answers(f"{api}/status/buildinfo"),
            timeout=30,
            what="Prometheus to start",
        )
        return api

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


def targets(api: str) -> list[dict]:
    return get(f"{api}/targets")["activeTargets"]


def query(api: str, expression: str) -> list[dict]:
    return get(f"{api}/query?query={urllib.parse.quote(expression)}")["result"]


def scraped(api: str, times: int) -> bool:
    """Prometheus has scraped the target at least ``times`` times, the last one healthily."""
    samples = query(api, 'count_over_time(up{job="ledger"}[1m])')
    latest = query(api, 'up{job="ledger"}')
    time.sleep(0.2)
    return bool(samples) and float(samples[0]["value"][1]) >= times and float(latest[0]["value"][1]) == 1.0
