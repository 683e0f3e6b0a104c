"""The watch's configuration, checked by the tools that will read it: ``promtool check rules``
and ``promtool test rules`` (every alert fires on its fault and stays quiet on the near
miss), ``promtool check config`` on the Prometheus configuration ``make cluster`` writes,
and ``amtool check-config`` on Alertmanager's."""

from __future__ import annotations

import subprocess
from dataclasses import replace

import pytest
import yaml

from scripts.cluster.layout import haproxy_config, web_addresses
from scripts.cluster.watching import CONFIG, database_side, topology

pytestmark = pytest.mark.slow

TESTS = ("slo.test.yml", "causes.test.yml")


def run(*command: str, cwd=CONFIG) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_promtool_accepts_the_rules():
    checked = run("promtool", "check", "rules", "rules.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_fires_and_keeps_quiet_as_its_promtool_tests_say():
    tested = run("promtool", "test", "rules", *TESTS)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.count("SUCCESS") == len(TESTS)


def alerts() -> set[str]:
    groups = yaml.safe_load((CONFIG / "rules.yml").read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def test_every_alert_has_a_test_that_sees_it_fire():
    fired = {
        check["alertname"]
        for name in TESTS
        for case in yaml.safe_load((CONFIG / name).read_text())["tests"]
        for check in case["alert_rule_test"]
        if check["exp_alerts"]
    }
    assert fired == alerts()


def test_prometheus_and_alertmanager_accept_the_configuration_make_cluster_writes(tmp_path):
    watch = replace(topology(web_addresses(2), ["redis://127.0.0.1:6379/0"]), folder=tmp_path)
    watch.configure()
    checked = run("promtool", "check", "config", "prometheus.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 27 rules found" in checked.stdout
    checked = run("amtool", "check-config", "alertmanager.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    jobs = {job["job_name"]: job for job in yaml.safe_load((tmp_path / "prometheus.yml").read_text())["scrape_configs"]}
    assert jobs["web"]["static_configs"][0]["targets"] == ["127.0.1.21:8000", "127.0.1.22:8000"]
    assert jobs["redis"]["static_configs"][0]["targets"] == ["redis://127.0.0.1:6379"]
    assert len(jobs["postgres"]["static_configs"][0]["targets"]) == len(jobs["patroni"]["static_configs"][0]["targets"])


def test_the_watch_of_verify_cluster_scrapes_the_database_side_and_its_own_servers_only(tmp_path):
    """verify --cluster runs no projection process at the topology's address: a target there
    would be down for the whole run and page for nothing. Its own servers and the Redis pair
    it starts (for redis-lost) are watched, so a server or a Redis it kills raises their alerts."""
    servers = ["127.0.0.1:21001", "127.0.0.1:21002"]
    watch = replace(database_side(servers, [("127.0.1.41", 6379), ("127.0.1.42", 6379)]), folder=tmp_path)
    watch.configure()
    checked = run("promtool", "check", "config", "prometheus.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    jobs = {job["job_name"]: job for job in yaml.safe_load((tmp_path / "prometheus.yml").read_text())["scrape_configs"]}
    targets = {name: [t for c in job.get("static_configs", []) for t in c["targets"]] for name, job in jobs.items()}
    assert targets["web"] == servers
    assert targets["projections"] == []
    assert len(targets["patroni"]) == len(targets["postgres"]) == 3 and len(targets["etcd"]) == 3
    assert targets["redis"] == ["redis://127.0.1.41:6379", "redis://127.0.1.42:6379"]
    assert database_side(servers).targets["redis"] == []


def test_haproxy_serves_its_metrics_on_the_stats_port_prometheus_scrapes():
    stats = haproxy_config(web_addresses(2)).split("listen stats", 1)[1]
    assert "http-request use-service prometheus-exporter if { path /metrics }" in stats
    (target,) = topology([], []).targets["haproxy"]
    assert f"bind {target}" in stats
