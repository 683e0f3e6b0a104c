"""Redis under Sentinel for tests: a primary, a replica and three Sentinels of their own, on
127.0.3.x (this work's loopback addresses) at ports the OS chose, ended afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from scripts.cluster.redis_sentinel import RedisSentinel, running

PRIMARY, REPLICA, SENTINELS = "127.0.3.1", "127.0.3.2", ("127.0.3.3", "127.0.3.4", "127.0.3.5")


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_sentinel(tmp_path: Path) -> Iterator[tuple[RedisSentinel, dict[str, subprocess.Popen[bytes]]]]:
    group = RedisSentinel(
        tmp_path / "redis",
        (PRIMARY, free_port(PRIMARY)),
        (REPLICA, free_port(REPLICA)),
        tuple((host, free_port(host)) for host in SENTINELS),  # type: ignore[arg-type]
        service="test-queue",
    )
    with running(group) as processes:
        yield group, processes


def lose_the_primary_with_its_last_writes(
    group: RedisSentinel, processes: dict[str, subprocess.Popen[bytes]], seconds: float
) -> float:
    """Kill the primary so that the writes of its last ``seconds`` never reach the replica
    (what asynchronous replication may lose): the replica is frozen, the primary drops its
    link to it, goes on acknowledging writes for ``seconds``, then is SIGKILLed; the replica
    goes on. Returns when the primary died (``time.monotonic()``)."""
    replica = processes["redis-replica"]
    os.kill(replica.pid, signal.SIGSTOP)
    try:
        redis.Redis(*group.primary).client_kill_filter(_type="slave")  # redis-py names replicas so
        time.sleep(seconds)
        processes["redis-primary"].kill()
        processes["redis-primary"].wait()
        return time.monotonic()
    finally:
        os.kill(replica.pid, signal.SIGCONT)
