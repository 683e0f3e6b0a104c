"""Redis under Sentinel: a primary, a replica and three Sentinels, for the waiting room's
queue and the rate limits (Debian's ``redis-server`` and ``redis-sentinel``).

In the topology (``make cluster``) each is a host of its own:

    127.0.1.41   Redis primary (:6379) at the start
    127.0.1.42   Redis replica (:6379), promoted by the Sentinels if the primary is lost
    127.0.1.43-45  Sentinels (:26379): two of three agree the primary is down (quorum 2)
                 and elect one of them to promote the replica

The web hosts reach Redis as ``redis+sentinel://127.0.1.43:26379,...,127.0.1.45:26379/ticketledger``
(``application/waiting_room/redis_connection.py``): they ask the Sentinels for the primary,
never a fixed address. A primary lost is noticed after ``DOWN_AFTER_MS`` and the replica is
promoted about a second later. Replication is asynchronous: the last writes before the loss
may be missing on the new primary (docs/on-sale.md, "When Redis fails over").

Tests start the same shape on their own addresses and ports (``tests/redis_sentinel.py``).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from scripts.cluster.layout import STATE

SERVICE = "ticketledger"
DOWN_AFTER_MS = 1000  # a primary silent this long is down (for each Sentinel)
FAILOVER_TIMEOUT_MS = 10_000
Address = tuple[str, int]


@dataclass(frozen=True)
class RedisSentinel:
    """Where each server of the group listens, and the folder for its files and logs."""

    folder: Path
    primary: Address
    replica: Address
    sentinels: tuple[Address, Address, Address]
    service: str = SERVICE

    @property
    def url(self) -> str:
        """``QUEUE_STORAGE_URI`` and ``RATE_LIMIT_STORAGE_URI`` for the web hosts."""
        return f"redis+sentinel://{','.join(f'{host}:{port}' for host, port in self.sentinels)}/{self.service}"

    def prepare(self) -> None:
        """The folders and the Sentinels' first configuration (each rewrites its own file as
        it learns the group: a Sentinel started again reads what it knew)."""
        for folder in (self.folder, self.folder / "primary", self.folder / "replica"):
            folder.mkdir(parents=True, exist_ok=True)
        for n, (host, port) in enumerate(self.sentinels, 1):
            (self.folder / f"sentinel{n}.conf").write_text(self.sentinel_config(host, port))

    def commands(self) -> dict[str, list[str]]:
        """Each server's command line, by name."""
        replica_of = ["--replicaof", *map(str, self.primary)]
        sentinels = {
            f"redis-sentinel{n}": ["redis-sentinel", str(self.folder / f"sentinel{n}.conf")]
            for n in range(1, len(self.sentinels) + 1)
        }
        return {
            "redis-primary": server(self.primary, self.folder / "primary"),
            "redis-replica": [*server(self.replica, self.folder / "replica"), *replica_of],
            **sentinels,
        }

    def sentinel_config(self, host: str, port: int) -> str:
        primary_host, primary_port = self.primary
        return "\n".join(
            [
                f"bind {host}",
                f"port {port}",
                "protected-mode no",
                "daemonize no",
                'logfile ""',
                f"dir {self.folder}",
                f"sentinel announce-ip {host}",
                f"sentinel monitor {self.service} {primary_host} {primary_port} 2",
                f"sentinel down-after-milliseconds {self.service} {DOWN_AFTER_MS}",
                f"sentinel failover-timeout {self.service} {FAILOVER_TIMEOUT_MS}",
                f"sentinel parallel-syncs {self.service} 1",
                "",
            ]
        )

    def ready(self) -> bool:
        """Every Sentinel knows the primary, the replica and the two other Sentinels."""
        for host, port in self.sentinels:
            try:
                state = redis.Redis(host, port, socket_timeout=1).sentinel_master(self.service)
            except redis.RedisError:
                return False
            if state.get("num-slaves") != 1 or state.get("num-other-sentinels") != 2:
                return False
        return True

    def primary_now(self) -> Address | None:
        """The primary the Sentinels name now (``None`` if none of them answers)."""
        for host, port in self.sentinels:
            try:
                found = redis.Redis(host, port, socket_timeout=1).sentinel_get_master_addr_by_name(self.service)
            except redis.RedisError:
                continue
            if found:
                host = found[0].decode() if isinstance(found[0], bytes) else found[0]
                return host, int(found[1])
        return None

    def wait_until_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the Sentinels of {self.service} did not see the whole group within {timeout} s")
            time.sleep(0.2)


def server(address: Address, folder: Path) -> list[str]:
    """A Redis server that keeps nothing on disk (a lost host's data is lost with it; the
    replica and the buyers' signed tickets are what survive)."""
    host, port = address
    return [
        "redis-server",
        "--bind", host,
        "--port", str(port),
        "--protected-mode", "no",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(folder),
        "--replica-announce-ip", host,
    ]  # fmt: skip


@contextmanager
def running(group: RedisSentinel) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """Start every server of ``group`` (logs in its folder), wait until the Sentinels see
    the whole group, yield the processes by name and end them afterwards."""
    processes: dict[str, subprocess.Popen[bytes]] = {}
    group.prepare()
    try:
        for name, command in group.commands().items():
            with open(group.folder / f"{name}.log", "ab") as log:
                processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        group.wait_until_ready()
        yield processes
    finally:
        for process in processes.values():
            process.kill()
            process.wait()


# The topology's group (``make cluster``).
CLUSTER = RedisSentinel(
    STATE / "redis",
    ("127.0.1.41", 6379),
    ("127.0.1.42", 6379),
    (("127.0.1.43", 26379), ("127.0.1.44", 26379), ("127.0.1.45", 26379)),
)


def up(spawn: Callable[[str, list[str]], object], group: RedisSentinel = CLUSTER) -> None:
    """Start the group with ``spawn(name, command)`` (which records each process, so that
    ``make cluster-down`` ends it), and wait until the Sentinels see all of it."""
    group.prepare()
    for name, command in group.commands().items():
        spawn(name, command)
    group.wait_until_ready()
