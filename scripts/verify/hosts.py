"""The service under test, deployed as production deploys it: two or more gunicorn
servers (think hosts) on ports of their own, one ``python -m projections`` (which also
expires holds), all on one PostgreSQL, a private cluster that may be crashed; with an RTT,
they reach it through a delaying proxy (``scripts/harness/delay_proxy.py``), as across a
network, while the checker reads the store directly.

Every process is started in a session of its own and ended, with its children, by its
id (``scripts.harness.processes``); ``close`` ends all of them and removes the cluster, however
the run ended.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import psycopg

from scripts.harness import delay_proxy
from scripts.harness.private_postgres import PrivatePostgres
from scripts.harness.processes import (
    children,
    free_port,
    kill_group,
    run_projection_process,
    start_gunicorn,
    stop,
    wait_for,
    wait_until_up,
)

SCHEMA = "ledger"


class Hosts:
    """Servers and the projection process over a private PostgreSQL cluster."""

    def __init__(
        self,
        servers: int,
        folder: Path,
        settings: dict[str, str],
        rtt_ms: float = 0.0,
        store: Callable[[list[str]], Any] = lambda _: PrivatePostgres(),
    ) -> None:
        """``settings``: the service's environment on top of the store's (tiers, hold
        time, ...); ``rtt_ms``: how far PostgreSQL is from the service; ``store`` makes the
        store (a private cluster, or the Patroni nodes: ``scripts.cluster.checked_store``)
        given the servers' addresses (host:port). Nothing is started yet (``start``)."""
        self.rtt_ms = rtt_ms
        self.make_store = store
        self.proxy: subprocess.Popen | None = None
        self.proxy_port = free_port()
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ports = [free_port() for _ in range(servers)]
        self.settings = settings
        self.postgres: Any = None  # PrivatePostgres or ClusterStore
        self.servers: list[subprocess.Popen | None] = [None] * servers
        self.projector: subprocess.Popen | None = None
        self._logs = {
            name: open(folder / f"{name}.log", "a")
            for name in [*(f"server-{n}" for n in range(servers)), "projections"]
        }
        self._metrics = Path(tempfile.mkdtemp(prefix="ledger-verify-metrics-"))

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    @property
    def entrances(self) -> list[str]:
        """Where the clients send: the store's balancer in front of the servers if it has one
        (the Patroni nodes' HAProxy), else each server directly."""
        return list(getattr(self.postgres, "entrances", self.urls))

    @property
    def store_env(self) -> dict[str, str]:
        """What a process needs to open the ledger's store."""
        assert self.postgres is not None
        return {**self.postgres.settings, "POSTGRES_SCHEMA": SCHEMA}

    @property
    def service_env(self) -> dict[str, str]:
        """What the servers and the projection process need to open it: through the proxy, if any."""
        if not self.rtt_ms:
            return self.store_env
        return {**self.store_env, "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(self.proxy_port)}

    def start(self) -> None:
        self.postgres = self.make_store([urlsplit(url).netloc for url in self.urls])
        with psycopg.connect(**connection_args(self.postgres.settings), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
        if self.rtt_ms:
            upstream = f"{self.postgres.settings['POSTGRES_HOST']}:{self.postgres.settings['POSTGRES_PORT']}"
            listen, stats = f"127.0.0.1:{self.proxy_port}", f"127.0.0.1:{free_port()}"
            self.proxy = delay_proxy.start(self.rtt_ms, upstream, [listen], stats)
        for n in range(len(self.ports)):
            self.start_server(n)
        for entrance in self.entrances:
            wait_for(lambda: serves(f"{entrance}/health"), 60, f"{entrance} to serve")  # noqa: B023 - waited for here
        self.start_projector()

    def start_server(self, n: int) -> None:
        """Start server ``n`` on its port and wait until it answers."""
        env = {
            **self.service_env,
            **self.settings,
            "PROJECT_IN_PROCESS": "no",
            "EXPIRE_HOLDS_IN_PROCESS": "no",
            "PROMETHEUS_MULTIPROC_DIR": str(self._metrics / f"server-{n}"),
        }
        self.servers[n] = start_gunicorn(env, self._logs[f"server-{n}"], self.ports[n])
        wait_until_up(f"{self.urls[n]}/health", self.servers[n], timeout=60)

    def start_projector(self) -> None:
        log = self._logs["projections"]
        position = log.tell()
        self.projector = run_projection_process({**self.service_env, **self.settings}, log)
        wait_for(lambda: "projecting" in read_from(log, position), 60, "the projection process to start")

    def workers(self, n: int) -> list[int]:
        """Server ``n``'s gunicorn workers (its master's children)."""
        server = self.servers[n]
        return children(server.pid) if server is not None else []

    def kill_server(self, n: int) -> None:
        """SIGKILL server ``n``, master and workers at once: its host lost power."""
        server, self.servers[n] = self.servers[n], None
        if server is not None:
            kill_group(server)

    def kill_projector(self) -> None:
        projector, self.projector = self.projector, None
        if projector is not None:
            kill_group(projector)

    def stop_servers(self) -> None:
        """Stop every server gracefully (requests in flight are answered)."""
        for n, server in enumerate(self.servers):
            if server is not None:
                stop(server)
                self.servers[n] = None

    def stop_projector(self) -> None:
        projector, self.projector = self.projector, None
        if projector is not None:
            stop(projector)

    def close(self) -> None:
        """End every process started here and remove the cluster, whatever state they are in."""
        for n in range(len(self.servers)):
            self.kill_server(n)
        self.kill_projector()
        if self.proxy is not None:
            self.proxy.kill()
            self.proxy.wait()
        if self.postgres is not None:
            self.postgres.remove()
        for log in self._logs.values():
            log.close()
        shutil.rmtree(self._metrics, ignore_errors=True)


def connection_args(settings: dict[str, str]) -> dict[str, str]:
    return {
        "host": settings["POSTGRES_HOST"],
        "port": settings["POSTGRES_PORT"],
        "dbname": settings["POSTGRES_DBNAME"],
        "user": settings["POSTGRES_USER"],
        "password": settings["POSTGRES_PASSWORD"],
    }


def serves(url: str) -> bool:
    """Whether ``url`` answers 200 (a balancer with no server up answers 503)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:  # urllib's HTTPError and URLError among them
        return False


def read_from(log: IO[str], position: int) -> str:
    with open(log.name, errors="replace") as text:
        text.seek(position)
        return text.read()
