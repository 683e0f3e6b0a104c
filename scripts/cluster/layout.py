"""Where each host of the production topology lives on this machine, and its configuration.

Every "host" has a loopback address of its own (127.0.1.x: loopback is the only place this
machine may send to), so a host can be lost as a whole (its processes killed) or cut off (an
nftables rule on its address) without touching the others:

    127.0.1.1    HAProxy: PostgreSQL writes (:5000, to the leader: Patroni's GET /primary),
                 reads that may lag (:5001, to a replica: GET /replica), HTTP (:8080, to the
                 web hosts that are up: /health), stats (:7000)
    127.0.1.10   etcd, Patroni's consensus store (:2379)
    127.0.1.11   PostgreSQL node1 (:5432) and its Patroni (REST :8008)
    127.0.1.12   PostgreSQL node2 (:5432) and its Patroni (REST :8008)
    127.0.1.21-  web hosts (`ticketledger serve`, :8000); the projection process beside them

The settings: Patroni's ``ttl`` 20 s (its floor, and so the floor of a failover after a
host is lost), ``loop_wait`` 2 s, ``retry_timeout`` 5 s; synchronous replication, strict,
so a commit is acknowledged only once the standby has it (``synchronous``: False turns it
off, for the guard's runs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

STATE = Path("/var/lib/ticketledger-cluster")  # owned by postgres: PostgreSQL refuses to run as root
PATRONI_VENV = Path("/opt/ticketledger-patroni")  # built with Debian's /usr/bin/python3 (HA-NOTES)
PG_BIN = Path("/usr/lib/postgresql/15/bin")
BALANCER = "127.0.1.1"
ETCD = "127.0.1.10"
WRITE_PORT, READ_PORT, HTTP_PORT, STATS_PORT = 5000, 5001, 8080, 7000
REST_PORT, PG_PORT, WEB_PORT = 8008, 5432, 8000
SCOPE = "ticketledger"
PGBACKREST_CONFIG = STATE / "pgbackrest.conf"  # scripts/cluster/backups.py
ARCHIVE_COMMAND = f"pgbackrest --config={PGBACKREST_CONFIG} --stanza={SCOPE} archive-push %p"
DATABASE, SCHEMA = "postgres", "ledger"


@dataclass(frozen=True)
class Node:
    name: str
    address: str

    @property
    def folder(self) -> Path:
        return STATE / self.name

    @property
    def rest(self) -> str:
        return f"http://{self.address}:{REST_PORT}"


NODES = (Node("node1", "127.0.1.11"), Node("node2", "127.0.1.12"))


def web_addresses(count: int) -> list[str]:
    return [f"127.0.1.{21 + n}" for n in range(count)]


def patroni_config(node: Node, synchronous: bool = True) -> str:
    """Patroni's configuration of ``node`` (YAML; JSON is YAML)."""
    return json.dumps(
        {
            "scope": SCOPE,
            "namespace": f"/{SCOPE}/",
            "name": node.name,
            "log": {"level": "WARNING"},
            "restapi": {"listen": f"{node.address}:{REST_PORT}", "connect_address": f"{node.address}:{REST_PORT}"},
            "etcd3": {"hosts": [f"{ETCD}:2379"]},
            "bootstrap": {
                "dcs": {
                    "ttl": 20,
                    "loop_wait": 2,
                    "retry_timeout": 5,
                    "maximum_lag_on_failover": 1048576,
                    "synchronous_mode": synchronous,
                    "synchronous_mode_strict": synchronous,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "parameters": {
                            "wal_level": "replica",
                            "hot_standby": "on",
                            "wal_log_hints": "on",
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "max_connections": 200,
                            "archive_mode": "on",  # WAL to pgBackRest's repository (backups.py)
                            "archive_command": ARCHIVE_COMMAND,
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, "data-checksums"],
                "pg_hba": [
                    "local all all trust",
                    "host all all 127.0.0.0/8 trust",
                    "host replication replicator 127.0.0.0/8 trust",
                ],
            },
            "postgresql": {
                "listen": f"{node.address}:{PG_PORT}",
                "connect_address": f"{node.address}:{PG_PORT}",
                "data_dir": str(node.folder / "data"),
                "bin_dir": str(PG_BIN),
                "pgpass": str(node.folder / "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": "postgres"},
                    "replication": {"username": "replicator", "password": "replicator"},
                    "rewind": {"username": "postgres", "password": "postgres"},
                },
                "parameters": {"unix_socket_directories": str(node.folder)},
            },
        },
        indent=2,
    )


def haproxy_config(web: list[str]) -> str:
    """HAProxy: writes to the leader, reads to a replica, HTTP to the web hosts that are up.
    A node found down has its sessions shut (``on-marked-down shutdown-sessions``), so a
    connection to a demoted primary is cut, and the pool connects again, to the new leader.
    The web hosts are checked on ``/health`` (the process answers), not ``/ready`` (the store
    answers): during a failover every host is unready at once, and taking them all out would
    turn the service's own answers (the tier list from the standby, a structured 503 for a
    booking) into the balancer's bare 503 (docs/performance.md)."""
    nodes = "\n".join(f"  server {node.name} {node.address}:{PG_PORT} check port {REST_PORT}" for node in NODES)
    webs = "\n".join(f"  server web{n + 1} {address}:{WEB_PORT} check" for n, address in enumerate(web))
    checked = "  default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions"
    return f"""global
  maxconn 8192

defaults
  mode tcp
  timeout connect 2s
  timeout client 30m
  timeout server 30m
  timeout check 2s

listen postgres_write
  bind {BALANCER}:{WRITE_PORT}
  option httpchk GET /primary
  http-check expect status 200
  option redispatch
{checked}
{nodes}

listen postgres_read
  bind {BALANCER}:{READ_PORT}
  option httpchk GET /replica
  http-check expect status 200
{checked}
{nodes}

listen http
  mode http
  bind {BALANCER}:{HTTP_PORT}
  timeout client 60s
  timeout server 60s
  option httpchk GET /health
  http-check expect status 200
  option redispatch
  retries 2
  default-server inter 1s fall 2 rise 2
{webs}

listen stats
  mode http
  bind {BALANCER}:{STATS_PORT}
  stats enable
  stats uri /
  http-request use-service prometheus-exporter if {{ path /metrics }}
"""


def etcd_command() -> list[str]:
    peer, client = f"http://{ETCD}:2380", f"http://{ETCD}:2379"
    return [
        "etcd",
        "--name=etcd1",
        f"--data-dir={STATE / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=etcd1={peer}",
        "--enable-v2=false",
    ]


def store_settings(port: int = WRITE_PORT) -> dict[str, str]:
    """The ``POSTGRES_*`` settings of a process that reaches the store through HAProxy."""
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_HOST": BALANCER,
        "POSTGRES_PORT": str(port),
        "POSTGRES_DBNAME": DATABASE,
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "postgres",
        "POSTGRES_SCHEMA": SCHEMA,
    }
