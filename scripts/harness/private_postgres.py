"""A throwaway PostgreSQL cluster of one's own, which may be crashed and restarted.

The shared server on 5432 serves other people's work and must never be restarted, so
the fault tests and ``ticketledger verify`` get a cluster of their own: ``initdb`` into a temporary folder, started on
a free port with ``pg_ctl``. Durability is what is being tested, so ``fsync`` stays on.
``initdb`` refuses to run as root: as root, every PostgreSQL command runs as the
``postgres`` OS user, who owns the folder.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from scripts.harness.processes import free_port


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's programs (Debian layout: /usr/lib/postgresql/<version>/bin)."""
    versions = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "pg_ctl").exists()]
    if not versions:
        raise RuntimeError("No PostgreSQL server programs under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    return max(versions, key=lambda p: int(p.parent.name))


class PrivatePostgres:
    """One cluster in a temporary folder; ``crash`` and ``start`` for fault injection."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.folder = Path(tempfile.mkdtemp(prefix="ledger-pg-"))  # not under a root-only folder such as pytest's
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self.data = self.folder / "data"
        self.port = free_port()
        try:
            self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
            self.start()
        except BaseException:
            self.remove()  # nothing left behind by a cluster that never came up
            raise

    @property
    def settings(self) -> dict[str, str]:
        """The ``POSTGRES_*`` settings for its ``postgres`` database."""
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": "postgres",
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": "",
        }

    def crash(self) -> None:
        """Stop at once, as a power cut would: no checkpoint, clients cut off."""
        self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def start(self) -> float:
        """Start (after a crash, recovery replays the WAL first); return how long it took."""
        began = time.monotonic()
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._run("pg_ctl", "-D", self.data, "-l", self.folder / "server.log", "-o", options, "-w", "start")
        return time.monotonic() - began

    def remove(self) -> None:
        """Stop it (if it runs) and delete its folder."""
        subprocess.run(
            [*self.as_postgres, self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: object) -> None:
        done = subprocess.run(
            [*self.as_postgres, self.bin / program, *map(str, args)], capture_output=True, text=True, timeout=60
        )
        if done.returncode:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stdout}{done.stderr}")
