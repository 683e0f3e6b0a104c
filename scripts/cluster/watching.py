"""Watching the topology: Prometheus scraping every process, the alert rules, Alertmanager
and the webhook receiver that records what it is told (docs/production.md, "Watching").

The configuration is in ``monitoring/``: ``prometheus.yml`` (a template: each ``$job`` is
filled with its targets here), ``rules.yml`` with their tests, ``alertmanager.yml``.
The exporters sit where what they watch lives: one ``prometheus-postgres-exporter`` on
each PostgreSQL node's address; Patroni, etcd, HAProxy (its built-in exporter on the
stats frontend), the web hosts and the projection process (``METRICS_BIND``) serve their
own ``/metrics``. Prometheus, Alertmanager, the receiver and the one
``prometheus-redis-exporter`` (asked about each Redis in turn) live on a monitoring host of
their own, ``MONITOR``. Nothing listens beyond loopback: Alertmanager's cluster gossip is
off.

``make cluster`` calls ``up`` after the web hosts start (``make cluster-down`` ends what it
recorded); the receiver's record is ``STATE/monitoring/alerts.jsonl``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from scripts.cluster import recorded
from scripts.cluster.database import answers
from scripts.cluster.layout import BALANCER, ETCD_MEMBERS, NODES, PG_PORT, REST_PORT, STATE, STATS_PORT, WEB_PORT
from scripts.harness.processes import ROOT, wait_for

CONFIG = Path(__file__).with_name("monitoring")
MONITOR = "127.0.1.90"
PROMETHEUS_PORT, ALERTMANAGER_PORT, RECEIVER_PORT, REDIS_EXPORTER_PORT = 9090, 9093, 9095, 9121
POSTGRES_EXPORTER_PORT = 9187
PROJECTIONS_METRICS = "127.0.1.20:9100"  # the projection process's METRICS_BIND


@dataclass(frozen=True)
class Process:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Watch:
    """Prometheus, Alertmanager, the receiver and the Redis exporter on ``host``, their files
    in ``folder``; ``targets`` are each job's host:port (``redis``: Redis URLs),
    ``postgres`` the nodes' ``host:port`` an exporter watches from the node's own address."""

    folder: Path
    host: str
    targets: dict[str, list[str]]
    postgres: list[str] = field(default_factory=list)

    def at(self, port: int) -> str:
        return f"{self.host}:{port}"

    @property
    def prometheus(self) -> str:
        return f"http://{self.at(PROMETHEUS_PORT)}"

    @property
    def alertmanager(self) -> str:
        return f"http://{self.at(ALERTMANAGER_PORT)}"

    @property
    def record(self) -> Path:
        """The receiver's record of every notice (``alert_receiver.received`` reads it)."""
        return self.folder / "alerts.jsonl"

    def configure(self) -> None:
        """Write Prometheus's and Alertmanager's configuration, and the rules, into ``folder``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "prometheus.yml").write_text(prometheus_config(self))
        (self.folder / "alertmanager.yml").write_text(
            Template((CONFIG / "alertmanager.yml").read_text()).substitute(
                receiver=f"http://{self.at(RECEIVER_PORT)}/alerts"
            )
        )
        (self.folder / "rules.yml").write_text((CONFIG / "rules.yml").read_text())

    def processes(self) -> list[Process]:
        exporters = [
            Process(
                f"postgres-exporter-{n + 1}",
                ["prometheus-postgres-exporter", f"--web.listen-address={exporter_address(node)}"],
                {"DATA_SOURCE_NAME": f"postgresql://postgres:postgres@{node}/postgres?sslmode=disable"},
            )
            for n, node in enumerate(self.postgres)
        ]
        return [
            *exporters,
            Process(
                "redis-exporter",
                ["prometheus-redis-exporter", f"--web.listen-address={self.at(REDIS_EXPORTER_PORT)}", "--redis.addr="],
            ),
            Process(
                "alert-receiver",
                [sys.executable, "-m", "scripts.cluster.alert_receiver"]
                + [f"--bind={self.at(RECEIVER_PORT)}", f"--record={self.record}"],
            ),
            Process(
                "alertmanager",
                ["prometheus-alertmanager", f"--config.file={self.folder / 'alertmanager.yml'}"]
                + [f"--storage.path={self.folder / 'alertmanager'}"]
                + [f"--web.listen-address={self.at(ALERTMANAGER_PORT)}", "--cluster.listen-address="],  # no gossip
            ),
            Process(
                "prometheus",
                ["prometheus", f"--config.file={self.folder / 'prometheus.yml'}"]
                + [f"--storage.tsdb.path={self.folder / 'prometheus'}"]
                + [f"--web.listen-address={self.at(PROMETHEUS_PORT)}"],
            ),
        ]

    def start(self, process: Process) -> subprocess.Popen:
        """Start ``process`` in a session of its own, its output in ``folder/<name>.log``."""
        with open(self.folder / f"{process.name}.log", "ab") as log:
            return subprocess.Popen(
                process.command,
                cwd=ROOT,
                env=os.environ | process.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def ready(self) -> bool:
        return answers(f"{self.prometheus}/-/ready") and answers(f"{self.alertmanager}/-/ready")


def prometheus_config(watch: Watch) -> str:
    jobs = ("web", "projections", "haproxy", "patroni", "etcd", "redis")
    lists = {job: json.dumps(watch.targets.get(job, [])) for job in jobs}
    return Template((CONFIG / "prometheus.yml").read_text()).substitute(
        lists,
        postgres=json.dumps([exporter_address(node) for node in watch.postgres]),
        redis_exporter=watch.at(REDIS_EXPORTER_PORT),
        alertmanager=json.dumps([watch.at(ALERTMANAGER_PORT)]),
        prometheus=json.dumps([watch.at(PROMETHEUS_PORT)]),
    )


def exporter_address(node: str) -> str:
    """Where the exporter of the PostgreSQL at ``node`` (host:port) listens: on its host."""
    return f"{node.rsplit(':', 1)[0]}:{POSTGRES_EXPORTER_PORT}"


def topology(web: list[str], redis: list[str]) -> Watch:
    """The watch over ``make cluster``: ``web`` the web hosts' addresses, ``redis`` its Redis URLs."""
    side = database_side([f"{address}:{WEB_PORT}" for address in web])
    return replace(
        side,
        targets={
            **side.targets,
            "projections": [PROJECTIONS_METRICS],
            "redis": [f"redis://{urlsplit(url).netloc}" for url in redis],
        },
    )


def database_side(web: list[str] | None = None, redis: list[tuple[str, int]] | None = None) -> Watch:
    """The watch over the database side (HAProxy, Patroni, etcd, PostgreSQL), the web hosts
    at ``web`` (host:port) and the Redis servers at ``redis``: what ``ticketledger verify
    --cluster`` runs, whose own servers sit on passing 127.0.0.1 ports."""
    return Watch(
        STATE / "monitoring",
        MONITOR,
        {
            "web": web or [],
            "haproxy": [f"{BALANCER}:{STATS_PORT}"],
            "patroni": [f"{node.address}:{REST_PORT}" for node in NODES],
            "etcd": [f"{address}:2379" for address in ETCD_MEMBERS.values()],
            "redis": [f"redis://{host}:{port}" for host, port in redis or []],
        },
        [f"{node.address}:{PG_PORT}" for node in NODES],
    )


def up(web: list[str], redis: list[str]) -> Watch:
    """Start watching ``make cluster``, once it is up."""
    return start(topology(web, redis))


def start(watch: Watch) -> Watch:
    """Start ``watch``'s processes, each recorded (``recorded.py``), so ``make cluster-down``
    ends it and ``make cluster`` starts it again if it died."""
    watch.configure()
    for process in watch.processes():
        recorded.spawn(f"watch-{process.name}", process.command, process.env, cwd=ROOT)
    wait_for(watch.ready, 60, "Prometheus and Alertmanager")
    print(f"watching: Prometheus on {watch.prometheus}, alerts recorded in {watch.record}")
    return watch
