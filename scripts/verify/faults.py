"""Faults injected while the clients run, one at a time, each recorded in the history
from the moment it struck until the service had recovered:

- ``worker``: SIGKILL the busiest gunicorn worker of one server (gunicorn starts another);
- ``server``: SIGKILL a whole server, master and workers (a host losing power), and
  start it again on the same port after ``SERVER_DOWN`` seconds;
- ``web-host-lost``: the same, started again only after ``WEB_HOST_DOWN`` seconds, longer
  than the watch waits before it calls a web host down (``WebHostDown``); behind a balancer
  (``--cluster``) the other server answers meanwhile;
- ``postgres``: crash PostgreSQL (``pg_ctl stop -m immediate``: no checkpoint, every
  connection cut) and start it again after ``POSTGRES_DOWN`` seconds (recovery replays
  the WAL);
- ``projector``: SIGKILL the projection process (which also expires holds) and start
  another, as its supervisor would;

and, against the Patroni nodes (``--cluster``, ``scripts/cluster/checked_store.py``):

- ``primary``: the leader's host lost (Patroni, the postmaster and its children killed at
  once); once a new leader takes writes, the old one is started again and must rejoin as
  a standby;
- ``host-lost``: the same, but the host is not started again: writes must go on without it
  (until the next fault, which first brings it back, as a rebuilt host);
- ``lagging-primary``: the leader's host lost after the link to the standbys dropped its
  WAL for 2 s (an nftables rule): the guard, which loses acknowledged bookings with
  asynchronous replication;
- ``switchover``: ``patronictl switchover`` to a standby, under load;
- ``partition``: the leader cut off from the other nodes and etcd (nftables, loopback);
- ``two-lost``: both standbys' hosts lost for 15 s: the leader alone must acknowledge nothing;
- ``etcd-lost``: one etcd member lost and left down;
- ``dcs-lost``: every etcd member gone for 30 s (failsafe mode keeps the leader writing);
- ``redis-lost``: the Redis primary of the queue and the rate limits SIGKILLed during a
  waiting-room flood; the Sentinels promote the replica, and the room is judged from the
  joiners' history (``scripts/verify/queue_flood.py``); the lost host is back after 30 s.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable

from scripts.harness.processes import busiest, wait_for
from scripts.verify.history import Fault, HistoryLog
from scripts.verify.hosts import Hosts

KINDS = ("worker", "server", "postgres", "projector")
WEB_KINDS = ("web-host-lost",)  # a server lost long enough to be missed: worth it behind a balancer
CLUSTER_KINDS = (
    "primary",
    "host-lost",
    "lagging-primary",
    "switchover",
    "partition",
    "two-lost",
    "etcd-lost",
    "dcs-lost",
    "redis-lost",
)
SERVER_DOWN = 2.0  # seconds
WEB_HOST_DOWN = 30.0  # seconds: over WebHostDown's 20 s (scripts/cluster/monitoring/rules.yml)
POSTGRES_DOWN = 3.0  # seconds
RECOVERY = 60.0  # seconds a process may take to come back before the run fails


class FaultInjector:
    """Injects the given kinds of fault in turn, every ``every`` seconds from ``first``
    seconds on, none starting after ``last`` seconds; in a thread of its own."""

    def __init__(self, hosts: Hosts, log: HistoryLog, kinds: list[str], rng: random.Random) -> None:
        self.hosts = hosts
        self.log = log
        self.kinds = kinds
        self.rng = rng
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._inject: dict[str, Callable[[], str]] = {
            "worker": self.kill_worker,
            "server": self.kill_server,
            "web-host-lost": lambda: self.kill_server(WEB_HOST_DOWN),
            "postgres": self.crash_postgres,
            "projector": self.kill_projector,
            "primary": lambda: self.hosts.postgres.lose_primary(),
            "lagging-primary": lambda: self.hosts.postgres.lose_lagging_primary(),
            "switchover": lambda: self.hosts.postgres.switchover(),
            "host-lost": lambda: self.hosts.postgres.lose_host_for_good(),
            "partition": lambda: self.hosts.postgres.cut_off_primary(),
            "two-lost": lambda: self.hosts.postgres.lose_two_hosts(),
            "etcd-lost": lambda: self.hosts.postgres.lose_etcd_member(),
            "dcs-lost": lambda: self.hosts.postgres.lose_dcs(),
            "redis-lost": lambda: self.hosts.postgres.lose_redis_primary(),
        }

    def start(self, first: float, every: float, last: float) -> FaultInjector:
        self._thread = threading.Thread(target=self._run, args=(first, every, last), name="faults", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop injecting; wait for the fault in progress to be recovered from."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(RECOVERY + 10)
        if self.error is not None:
            raise RuntimeError(f"a fault could not be injected or recovered from: {self.error!r}") from self.error

    def _run(self, first: float, every: float, last: float) -> None:
        began = time.monotonic()
        for n in range(len(self.kinds) * 1000):
            at = first + n * every
            if at > last or self._stop.wait(max(0.0, began + at - time.monotonic())):
                return
            try:
                self.inject(self.kinds[n % len(self.kinds)])
            except BaseException as error:  # reported by stop(), in the main thread
                self.error = error
                return

    def inject(self, kind: str) -> Fault:
        if kind in CLUSTER_KINDS:  # what the last fault left lost comes back first, outside this fault's window
            self.hosts.postgres.heal()
        began = time.time()
        target = self._inject[kind]()
        fault = Fault(kind, target, began, time.time())
        self.log.add_fault(fault)
        return fault

    def kill_worker(self) -> str:
        n = self.rng.randrange(len(self.hosts.ports))
        before = self.hosts.workers(n)
        victim = busiest(before)
        os.kill(victim, signal.SIGKILL)
        wait_for(
            lambda: len(self.hosts.workers(n)) == len(before) and victim not in self.hosts.workers(n),
            RECOVERY,
            "gunicorn to replace the killed worker",
        )
        return f"server-{n} worker {victim}"

    def kill_server(self, down: float = SERVER_DOWN) -> str:
        n = self.rng.randrange(len(self.hosts.ports))
        self.hosts.kill_server(n)
        time.sleep(down)
        self.hosts.start_server(n)
        return f"server-{n}"

    def crash_postgres(self) -> str:
        assert self.hosts.postgres is not None
        self.hosts.postgres.crash()
        time.sleep(POSTGRES_DOWN)
        self.hosts.postgres.start()
        return "postgres"

    def kill_projector(self) -> str:
        self.hosts.kill_projector()
        self.hosts.start_projector()
        return "projections"
