"""The replicated store of the topology: three etcd members, three PostgreSQL nodes managed
by Patroni, and HAProxy in front; started, inspected, failed and ended from here.

Processes run detached, in sessions of their own, recorded in ``STATE/run``
(``recorded.py``), so ``make cluster`` can return and ``make cluster-down`` end them later.
WAL archiving works from the first minute: pgBackRest's stanza is created as soon as the
first node leads, before the others are even started. Patroni and PostgreSQL
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
import urllib.error
import urllib.request
from pathlib import Path

import psycopg

from scripts.cluster import backups, links, recorded, switchover
from scripts.cluster.layout import (
    BALANCER,
    ETCD_MEMBERS,
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
from scripts.cluster.recorded import RUN, kill, spawn
from scripts.cluster.switchover import role
from scripts.harness.processes import children, wait_for


class Database:
    """The Patroni nodes behind HAProxy; ``web`` are the web hosts' addresses HAProxy balances."""

    def __init__(self, web: list[str], synchronous: bool = True) -> None:
        self.web = web
        self.synchronous = synchronous
        self.postgres = pwd.getpwnam("postgres")

    # Bring-up and end.

    def up(self) -> None:
        """Start everything on a machine where nothing of the topology runs (``__main__``
        makes sure of that)."""
        for folder in (STATE, RUN, *(node.folder for node in NODES)):
            folder.mkdir(parents=True, exist_ok=True)
            os.chown(folder, self.postgres.pw_uid, self.postgres.pw_gid)
            folder.chmod(0o700)
        RUN.chmod(0o755)
        backups.prepare()
        for name in ETCD_MEMBERS:
            spawn(name, etcd_command(name))
        wait_for(lambda: all(etcd_healthy(a) for a in ETCD_MEMBERS.values()), 30, "etcd's three members")
        for node in NODES:
            (node.folder / "patroni.yml").write_text(patroni_config(node, self.synchronous))
        first, *others = NODES
        self.start_node(first, wait=True)
        wait_for(lambda: leads(first), 60, f"{first.name} to lead")
        backups.create_stanza(self.as_postgres)  # before any WAL segment could fail to archive
        for node in others:
            self.start_node(node, wait=True)
        wait_for(
            lambda: self.leader() is not None and self.standby_streaming(len(others)),
            120,
            "a leader and both standbys streaming",
        )
        (STATE / "haproxy.cfg").write_text(haproxy_config(self.web))
        spawn("haproxy", ["haproxy", "-f", str(STATE / "haproxy.cfg"), "-db"])
        # HAProxy counts a server up until its checks say otherwise: writes go to the leader
        # only once five connections in a row (round robin over the three) found the leader.
        wait_for(lambda: all(self.writable() for _ in range(5)), 30, "writes through HAProxy to the leader only")
        with psycopg.connect(**connection(WRITE_PORT), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')

    def down(self) -> None:
        """End every process recorded (the nodes' postmasters with them), and remove the data."""
        for node in NODES:
            self.lose_host(node)
        for name in recorded.names():
            recorded.end(name)
        links.mend_links()
        links.remove_cgroups()
        shutil.rmtree(STATE, ignore_errors=True)

    # Nodes.

    @property
    def as_postgres(self) -> list[str]:
        """A command's prefix that runs it as the postgres user (``setpriv`` execs it)."""
        return ["setpriv", f"--reuid={self.postgres.pw_uid}", f"--regid={self.postgres.pw_gid}", "--init-groups"]

    def start_node(self, node: Node, wait: bool = False) -> None:
        patroni = [str(PATRONI_VENV / "bin" / "patroni"), str(node.folder / "patroni.yml")]
        spawn(node.name, [*self.as_postgres, *patroni])
        if wait:
            wait_for(lambda: role(node) is not None, 60, f"{node.name} to run")

    def lose_host(self, node: Node) -> None:
        """The node's host lost power: Patroni, the postmaster and its children, all at once."""
        postmaster = postmaster_pid(node)
        kill(recorded.pid_of(node.name))
        if postmaster and Path(f"/proc/{postmaster}").exists():
            for pid in [*children(postmaster), postmaster]:
                kill(pid)

    def leader(self) -> Node | None:
        return switchover.leader()

    def standby_streaming(self, count: int = 1) -> bool:
        """Whether ``count`` standbys stream (as quorum standbys, in synchronous mode)."""
        leader = self.leader()
        if leader is None:
            return False
        wanted = ("quorum_standby", "sync_standby") if self.synchronous else ("replica",)
        streaming = [m for m in members(leader) if m.get("role") in wanted and m.get("state") == "streaming"]
        return len(streaming) >= count

    def switchover(self) -> Node:
        """The operator's switchover (``switchover.py``): the new leader."""
        return switchover.switchover()

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
            "etcd": {name: etcd_healthy(address) for name, address in ETCD_MEMBERS.items()},
            "writable_through_haproxy": self.writable(),
            "archiving": backups.check(self.as_postgres),
        }


def connection(port: int) -> dict[str, str]:
    settings = store_settings(port)
    return {
        "host": BALANCER,
        "port": settings["POSTGRES_PORT"],
        "dbname": settings["POSTGRES_DBNAME"],
        "user": settings["POSTGRES_USER"],
        "password": settings["POSTGRES_PASSWORD"],
    }


def members(leader: Node) -> list[dict]:
    try:
        with urllib.request.urlopen(f"{leader.rest}/cluster", timeout=2) as answer:
            return list(json.load(answer).get("members", []))
    except (urllib.error.URLError, OSError, ValueError):
        return []


def leads(node: Node) -> bool:
    """Whether ``node``'s PostgreSQL answers on its socket, out of recovery (Patroni may
    call it primary a moment before)."""
    try:
        with psycopg.connect(host=str(node.folder), port=PG_PORT, dbname="postgres", user="postgres") as conn:
            return not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
    except psycopg.Error:
        return False


def etcd_healthy(address: str) -> bool:
    return answers(f"http://{address}:2379/health")


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
