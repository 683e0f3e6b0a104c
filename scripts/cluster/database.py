"""The replicated store of the topology: etcd, two PostgreSQL nodes managed by Patroni, and
HAProxy in front; started, inspected, failed and ended from here.

Processes run detached, in sessions of their own, with their ids in ``STATE/run``, so
``make cluster`` can return and ``make cluster-down`` end them later. Patroni and PostgreSQL
run as the ``postgres`` user (``setpriv``, which execs: the id kept is Patroni's own).
Patroni starts PostgreSQL detached from itself (so a restart of Patroni does not stop the
database): losing a node's host therefore kills Patroni *and* the postmaster with every
child, found from ``postmaster.pid``.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg

from scripts.cluster import backups
from scripts.cluster.layout import (
    BALANCER,
    NODES,
    PATRONI_VENV,
    PG_PORT,
    SCHEMA,
    STATE,
    WRITE_PORT,
    Node,
    etcd_command,
    haproxy_config,
    patroni_config,
    store_settings,
)
from scripts.harness.processes import children, wait_for

RUN = STATE / "run"
NFT_TABLE = "ticketledger_cluster"


class Database:
    """The Patroni pair behind HAProxy; ``web`` are the web hosts' addresses HAProxy balances."""

    def __init__(self, web: list[str], synchronous: bool = True) -> None:
        self.web = web
        self.synchronous = synchronous
        self.postgres = pwd.getpwnam("postgres")

    # Bring-up and end.

    def up(self) -> None:
        self.down()
        for folder in (STATE, RUN, *(node.folder for node in NODES)):
            folder.mkdir(parents=True, exist_ok=True)
            os.chown(folder, self.postgres.pw_uid, self.postgres.pw_gid)
            folder.chmod(0o700)
        RUN.chmod(0o755)
        backups.prepare()
        self.spawn("etcd", etcd_command())
        wait_for(lambda: answers("http://127.0.1.10:2379/health"), 30, "etcd")
        for node in NODES:
            (node.folder / "patroni.yml").write_text(patroni_config(node, self.synchronous))
            self.start_node(node)
            wait_for(lambda n=node: role(n) is not None, 60, f"{node.name} to run")
        wait_for(
            lambda: self.leader() is not None and self.standby_streaming(), 60, "a leader and a synchronous standby"
        )
        (STATE / "haproxy.cfg").write_text(haproxy_config(self.web))
        self.spawn("haproxy", ["haproxy", "-f", str(STATE / "haproxy.cfg"), "-db"])
        # HAProxy counts a server up until its checks say otherwise: writes go to the leader
        # only once five connections in a row (round robin over both) found the leader.
        wait_for(lambda: all(self.writable() for _ in range(5)), 30, "writes through HAProxy to the leader only")
        with psycopg.connect(**connection(WRITE_PORT), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')

    def down(self) -> None:
        """End every process started here (by its recorded id), and remove the data."""
        for node in NODES:
            self.lose_host(node)
        for name in ("haproxy", "etcd"):
            kill(read_pid(name))
        mend_links()
        shutil.rmtree(STATE, ignore_errors=True)

    # Nodes.

    @property
    def as_postgres(self) -> list[str]:
        """A command's prefix that runs it as the postgres user (``setpriv`` execs it)."""
        return ["setpriv", f"--reuid={self.postgres.pw_uid}", f"--regid={self.postgres.pw_gid}", "--init-groups"]

    def start_node(self, node: Node) -> None:
        patroni = [str(PATRONI_VENV / "bin" / "patroni"), str(node.folder / "patroni.yml")]
        self.spawn(node.name, [*self.as_postgres, *patroni])

    def lose_host(self, node: Node) -> None:
        """The node's host lost power: Patroni, the postmaster and its children, all at once."""
        postmaster = postmaster_pid(node)
        kill(read_pid(node.name))
        if postmaster and Path(f"/proc/{postmaster}").exists():
            for pid in [*children(postmaster), postmaster]:
                kill(pid)

    def leader(self) -> Node | None:
        return next((node for node in NODES if role(node) == "primary"), None)

    def standby_streaming(self) -> bool:
        """Whether a standby is streaming (synchronously, in synchronous mode)."""
        leader = self.leader()
        if leader is None:
            return False
        wanted = "sync_standby" if self.synchronous else "replica"
        return any(m.get("role") == wanted and m.get("state") in ("streaming", "running") for m in members(leader))

    def switchover(self) -> Node:
        """Hand the leader's role to the standby (``patronictl switchover``); the new leader."""
        leader = self.leader()
        assert leader is not None, "no leader to switch over from"
        candidate = next(node for node in NODES if node != leader)
        subprocess.run(
            [str(PATRONI_VENV / "bin" / "patronictl"), "-c", str(leader.folder / "patroni.yml"), "switchover"]
            + ["--leader", leader.name, "--candidate", candidate.name, "--force"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return candidate

    def writable(self) -> bool:
        try:
            with psycopg.connect(**connection(WRITE_PORT), connect_timeout=2, autocommit=True) as conn:
                return not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        except psycopg.Error:
            return False

    def status(self) -> dict[str, object]:
        leader = self.leader()
        return {
            "nodes": {node.name: role(node) for node in NODES},
            "members": members(leader) if leader else [],
            "writable_through_haproxy": self.writable(),
        }

    def spawn(self, name: str, command: list[str]) -> None:
        log = open(STATE / f"{name}.log", "ab")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=STATE)
        (RUN / f"{name}.pid").write_text(str(process.pid))


def connection(port: int) -> dict[str, str]:
    settings = store_settings(port)
    return {
        "host": BALANCER,
        "port": settings["POSTGRES_PORT"],
        "dbname": settings["POSTGRES_DBNAME"],
        "user": settings["POSTGRES_USER"],
        "password": settings["POSTGRES_PASSWORD"],
    }


def role(node: Node) -> str | None:
    """``primary`` or ``replica`` as Patroni reports it, or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{node.rest}/patroni", timeout=2) as answer:
            return str(json.load(answer).get("role")) if answer.status == 200 else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def members(leader: Node) -> list[dict]:
    try:
        with urllib.request.urlopen(f"{leader.rest}/cluster", timeout=2) as answer:
            return list(json.load(answer).get("members", []))
    except (urllib.error.URLError, OSError, ValueError):
        return []


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def postmaster_pid(node: Node) -> int | None:
    try:
        return int((node.folder / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def read_pid(name: str) -> int | None:
    try:
        return int((RUN / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None


def kill(pid: int | None) -> None:
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and not zombie(pid):
        time.sleep(0.05)


def zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def cut_replication(source: Node) -> None:
    """Drop what ``source``'s PostgreSQL sends its standby (the WAL stream), as a link that
    stops carrying packets: an nftables rule on loopback. The standby connects from
    127.0.0.1 like everything else here, so its connection is told apart by its port, as
    the leader reports it (``pg_stat_replication``)."""
    with psycopg.connect(
        host=source.address, port=PG_PORT, dbname="postgres", user="postgres", password="postgres"
    ) as conn:
        ports = [row[0] for row in conn.execute("SELECT client_port FROM pg_stat_replication")]
    nft(f"add table inet {NFT_TABLE}")
    nft(f"add chain inet {NFT_TABLE} out {{ type filter hook output priority 0 ; }}")
    for port in ports:
        nft(f"add rule inet {NFT_TABLE} out ip saddr {source.address} tcp sport {PG_PORT} tcp dport {port} drop")


def mend_links() -> None:
    """Remove every rule ``cut_replication`` added."""
    subprocess.run(["nft", "delete", "table", "inet", NFT_TABLE], capture_output=True)


def nft(command: str) -> None:
    subprocess.run(["nft", *command.split()], check=True, capture_output=True)
