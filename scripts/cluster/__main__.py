"""The production topology on this machine: ``make cluster``, ``make cluster-status``,
``make cluster-down`` (docs/production.md).

    python -m scripts.cluster up [--web 2] [--asynchronous]
    python -m scripts.cluster status
    python -m scripts.cluster drill        # make restore-drill: backups restored and audited
    python -m scripts.cluster down

``up`` starts three etcd members, three Patroni nodes and HAProxy (``database.py``), then
the web hosts in the README's server mode (``ticketledger serve`` on PostgreSQL through
HAProxy, trusting ``X-Forwarded-For`` from HAProxy and the edge only, rate limits and the waiting room's
queue in Redis under Sentinel: ``redis_sentinel.py``) and one projection process, each on
its own loopback address (``layout.py``), then the edge in front of them (``edge.py``), and
returns; the API answers on http://127.0.1.1:8080 through HAProxy, the audience's site on
http://127.0.1.2:8080 through the edge.

``up`` over a topology already running converges: whatever it recorded that has died is
started again as it was (``recorded.py``). It refuses, saying what to do, rather than leave
an orphan: another number of web hosts than the running topology has, or an address of the
topology already taken by a process it did not record.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import secrets
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from scripts.cluster import edge, recorded, redis_sentinel, watching
from scripts.cluster.database import Database, answers
from scripts.cluster.layout import (
    BALANCER,
    HTTP_PORT,
    LISTENERS,
    READ_PORT,
    STATE,
    WEB_PORT,
    store_settings,
    web_addresses,
)
from scripts.harness.processes import ROOT, wait_for

REDIS_GROUP = redis_sentinel.CLUSTER  # the queue's and the limits' Redis, under Sentinel
REDIS = os.environ.get("REDIS_URL", REDIS_GROUP.url)

# The other parts of the topology hook in here, each a function of a module of its own that
# starts its processes with ``recorded.spawn`` (so ``down`` ends them and ``up`` over a
# running topology starts again whichever has died): once the database is up, before the
# web hosts; and once the web hosts answer. Their addresses go in ``layout.LISTENERS``.
BEFORE_WEB: list[Callable[[], None]] = []
AFTER_WEB: list[Callable[[], None]] = []
BEFORE_WEB.append(lambda: redis_sentinel.up(recorded.spawn))  # the queue's and limits' Redis


class Refused(Exception):
    """Raised when ``up`` cannot bring what runs to the wanted state without an orphan."""


def service_settings(bind: str) -> dict[str, str]:
    """A web host's or the projection process's environment: the store through HAProxy."""
    return {
        **store_settings(),
        "BIND": bind,
        "RATE_LIMIT_STORAGE_URI": REDIS,
        "QUEUE_STORAGE_URI": REDIS,
        "READ_REPLICA": f"{BALANCER}:{READ_PORT}",  # the tier list from the standby during a failover
        "DEMO_TIERS": os.environ.get("DEMO_TIERS", "VIP:150.00:100,FRONT_ROW:90.00:500,GA:45.00:5000"),
    }


def up(web: int, synchronous: bool) -> None:
    if recorded.names():
        return converge(web)
    listeners = [*LISTENERS, *((address, WEB_PORT) for address in web_addresses(web))]
    taken = [f"{address}:{port}" for address, port in listeners if in_use(address, port)]
    if taken:
        raise Refused(
            f"{', '.join(taken)} already taken by processes make cluster did not record (left by an earlier "
            "run?): end them (ss -ltnp to find them), then run make cluster again"
        )
    addresses = web_addresses(web)
    Database(addresses, synchronous).up()
    for hook in BEFORE_WEB:
        hook()
    admin = secrets.token_hex(16)
    (STATE / "admin-token").write_text(admin)
    for n, address in enumerate(addresses):
        web_host = {
            **service_settings(f"{address}:{WEB_PORT}"),
            "ADMIN_TOKEN": admin,
            "TRUSTED_PROXIES": f"{BALANCER},{edge.EDGE}",  # X-Forwarded-For believed from these only
            "PROMETHEUS_MULTIPROC_DIR": str(STATE / "metrics" / f"web{n + 1}"),  # removed with STATE
        }
        start(f"web{n + 1}", ["serve"], web_host)
    start("projections", ["projections"], {**service_settings(""), "METRICS_BIND": watching.PROJECTIONS_METRICS})
    wait_until_served(addresses)
    for hook in AFTER_WEB:
        hook()
    watching.up(addresses, [f"redis://{host}:{port}" for host, port in (REDIS_GROUP.primary, REDIS_GROUP.replica)])
    edge.up(addresses, start)
    print(f"up: the API on http://{BALANCER}:{HTTP_PORT} (admin token in {STATE / 'admin-token'})")


def converge(web: int) -> None:
    """The topology runs already: start again, as it was, whatever of it has died."""
    running = [name for name in recorded.names() if name.startswith("web")]
    if len(running) != web:
        raise Refused(
            f"the running topology has {len(running)} web hosts, not {web}: run make cluster-down first to change it"
        )
    dead = [name for name in recorded.names() if not recorded.alive(name)]
    unknown = [name for name in dead if not (recorded.RUN / f"{name}.json").exists()]
    if unknown:
        raise Refused(f"{', '.join(unknown)} died and was not recorded how it started: run make cluster-down first")
    for name in dead:
        recorded.respawn(name)
    wait_until_served(web_addresses(web))
    print(f"up already: started again {', '.join(dead) or 'nothing (everything ran)'}")


def wait_until_served(addresses: list[str]) -> None:
    for address in addresses:
        wait_for(lambda a=address: answers(f"http://{a}:{WEB_PORT}/ready"), 60, f"the web host on {address}")
    wait_for(lambda: answers(f"http://{BALANCER}:{HTTP_PORT}/ready"), 30, "HTTP through HAProxy")


def in_use(address: str, port: int) -> bool:
    """Whether a process listens at ``address:port``. The probe binds as the servers do, with
    SO_REUSEADDR: without it, the connections of a topology just ended (TIME_WAIT, a minute)
    would count as taken and ``make cluster`` would refuse right after ``make cluster-down``."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as error:
            return error.errno == errno.EADDRINUSE
    return False


def start(name: str, command: list[str], env: dict[str, str]) -> None:
    """A ``ticketledger`` subcommand (or a program named by its path) as the cluster's ``name``."""
    program = [] if command[0].startswith("/") else [str(Path(sys.executable).parent / "ticketledger")]
    recorded.spawn(name, [*program, *command], env, cwd=ROOT)


def down() -> None:
    """The web hosts and the projection process first, gracefully, while the store still
    answers their requests in flight; then everything else recorded."""
    for name in recorded.names():
        if name.startswith(recorded.GRACEFUL):
            recorded.end(name)
    Database([]).down()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.cluster", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up")
    up_parser.add_argument("--web", type=int, default=2, help="web hosts (default 2)")
    up_parser.add_argument("--asynchronous", action="store_true", help="asynchronous replication (the guard's runs)")
    commands.add_parser("status")
    commands.add_parser("drill", help="restore the backups to a point in time on a fresh node and audit it there")
    commands.add_parser("down")
    args = parser.parse_args(argv)
    if args.command == "up":
        try:
            up(args.web, not args.asynchronous)
        except Refused as refusal:
            print(f"make cluster refused: {refusal}", file=sys.stderr)
            return 2
    elif args.command in ("status", "drill") and not recorded.names():
        print("no topology runs here (make cluster starts one)", file=sys.stderr)
        return 1
    elif args.command == "status":
        print(json.dumps(Database([]).status(), indent=2))
    elif args.command == "drill":
        from scripts.cluster.drill import drill  # reads the store through the application

        result = drill()
        print(json.dumps(result, indent=2))
        return 0 if result["passed"] else 1
    else:
        down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
