"""Where each host of the production topology lives on this machine, and its configuration.

Every "host" has a loopback address of its own (127.0.1.x: loopback is the only place this
machine may send to), so a host can be lost as a whole (its processes killed) or cut off (an
nftables rule on its address) without touching the others:

    127.0.1.1    HAProxy: PostgreSQL writes (:5000, to the leader: Patroni's GET /primary),
                 reads that may lag (:5001, to a replica: GET /replica), HTTP (:8080, to the
                 web hosts that are up: /health), stats (:7000)
    127.0.1.8-10 etcd1-3, Patroni's consensus store (:2379, peers :2380): three members, so
                 one may be lost and the other two still agree
    127.0.1.11-13 PostgreSQL node1-3 (:5432), each with its Patroni (REST :8008)
    127.0.1.21-  web hosts (`ticketledger serve`, :8000); the projection process beside them

The settings: Patroni's ``ttl`` 20 s (its floor, and so the floor of a failover after a
host is lost), ``loop_wait`` 1 s, ``retry_timeout`` 5 s; quorum commit over the two
standbys, strict (``synchronous_mode: quorum``, ``synchronous_node_count: 1``,
``synchronous_mode_strict``): a commit is acknowledged once either standby has it, so one
node lost for good never stops writes, and with two lost the last one acknowledges nothing
(``synchronous``: False turns replication asynchronous, for the guard's runs); failsafe
mode on, so the leader keeps writing while etcd is gone if it still reaches both standbys.
docs/production.md says which guarantee each setting gives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

STATE = Path("/var/lib/ticketledger-cluster")  # owned by postgres: PostgreSQL refuses to run as root
PATRONI_VENV = Path("/opt/ticketledger-patroni")  # built with Debian's /usr/bin/python3 (HA-NOTES)
PG_BIN = Path("/usr/lib/postgresql/15/bin")
BALANCER = "127.0.1.1"
ETCD_MEMBERS = {"etcd1": "127.0.1.8", "etcd2": "127.0.1.9", "etcd3": "127.0.1.10"}
WRITE_PORT, READ_PORT, HTTP_PORT, STATS_PORT = 5000, 5001, 8080, 7000
REST_PORT, PG_PORT, WEB_PORT = 8008, 5432, 8000
SCOPE = "ticketledger"
PGBACKREST_CONFIG = STATE / "pgbackrest.conf"  # scripts/cluster/backups.py
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


NODES = (Node("node1", "127.0.1.11"), Node("node2", "127.0.1.12"), Node("node3", "127.0.1.13"))


# Where the topology's servers listen (besides the web hosts): make cluster refuses to
# start while a process it did not record holds one of them.
LISTENERS = [
    *((BALANCER, port) for port in (WRITE_PORT, READ_PORT, HTTP_PORT, STATS_PORT)),
    *((address, port) for address in ETCD_MEMBERS.values() for port in (2379, 2380)),
    *((node.address, port) for node in NODES for port in (PG_PORT, REST_PORT)),
]


def web_addresses(count: int) -> list[str]:
    return [f"127.0.1.{21 + n}" for n in range(count)]


def archive_command(node: Node) -> str:
    """The node's own: pgBackRest reads a relative ``%p`` under ``pg1-path``, and the stanza's
    ``pg1-path`` is node1's, so one command for all would push node1's files from whichever
    node leads (seen: after a failover the new leader archived nothing, ``00000002.history`` failed)."""
    return f"pgbackrest --config={PGBACKREST_CONFIG} --stanza={SCOPE} --pg1-path={node.folder / 'data'} archive-push %p"


def patroni_config(node: Node, synchronous: bool = True) -> str:
    """Patroni's configuration of ``node`` (YAML; JSON is YAML)."""
    return json.dumps(
        {
            "scope": SCOPE,
            "namespace": f"/{SCOPE}/",
            "name": node.name,
            "log": {"level": "WARNING"},
            "restapi": {"listen": f"{node.address}:{REST_PORT}", "connect_address": f"{node.address}:{REST_PORT}"},
            "etcd3": {"hosts": [f"{address}:2379" for address in ETCD_MEMBERS.values()]},
            "bootstrap": {
                "dcs": {
                    "ttl": 20,
                    "loop_wait": 1,
                    "retry_timeout": 5,
                    "maximum_lag_on_failover": 1048576,
                    "synchronous_mode": "quorum" if synchronous else False,
                    "synchronous_node_count": 1,  # of the two standbys: ANY 1 (the other two)
                    "synchronous_mode_strict": synchronous,  # no standby left: commits wait
                    "failsafe_mode": True,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "parameters": {
                            "wal_level": "replica",
                            "hot_standby": "on",
                            "wal_log_hints": "on",
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "max_connections": 200,
                            # A standby whose upstream was lost reconnects to the new leader
                            # within a second (the default 5 s would hold quorum commits up).
                            "wal_retrieve_retry_interval": "1s",
                            "archive_mode": "on",  # WAL to pgBackRest's repository (backups.py)
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
                "parameters": {"unix_socket_directories": str(node.folder), "archive_command": archive_command(node)},
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
    # Checked every 0.5 s: a demoted leader is out after two failed checks, a promoted one
    # in after one (Patroni answers 200 on /primary only to the node holding the leader key).
    checked = "  default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions"
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

{http_section(BALANCER, web)}
listen stats
  mode http
  bind {BALANCER}:{STATS_PORT}
  stats enable
  stats uri /
  http-request use-service prometheus-exporter if {{ path /metrics }}
"""


def http_section(bind: str, web: list[str], port: int = HTTP_PORT) -> str:
    """HAProxy's HTTP front for the web hosts on ``web`` (``address`` or ``address:port``).
    ``option forwardfor`` adds the client's address to ``X-Forwarded-For``, and ``source``
    makes HAProxy connect to the web hosts from its own address ``bind``, the one address
    they trust that header from (``TRUSTED_PROXIES``, web/http/proxies.py): without both,
    every buyer behind the balancer counts against one rate limit, the balancer's."""
    webs = "\n".join(
        f"  server web{n + 1} {host if ':' in host else f'{host}:{WEB_PORT}'} check" for n, host in enumerate(web)
    )
    return f"""listen http
  mode http
  bind {bind}:{port}
  timeout client 60s
  timeout server 60s
  option forwardfor
  source {bind}
  option httpchk GET /health
  http-check expect status 200
  option redispatch
  retries 2
  default-server inter 1s fall 2 rise 2
{webs}
"""


def etcd_command(name: str) -> list[str]:
    """etcd member ``name`` of the three (``ETCD_MEMBERS``)."""
    address = ETCD_MEMBERS[name]
    peer, client = f"http://{address}:2380", f"http://{address}:2379"
    members = ",".join(f"{member}=http://{at}:2380" for member, at in ETCD_MEMBERS.items())
    return [
        "etcd",
        f"--name={name}",
        f"--data-dir={STATE / name}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={members}",
        f"--initial-cluster-token={SCOPE}",
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
