"""The production topology on this machine: ``make cluster``, ``make cluster-status``,
``make cluster-down`` (docs/production.md).

    python -m scripts.cluster up [--web 2] [--asynchronous]
    python -m scripts.cluster status
    python -m scripts.cluster drill        # make restore-drill: backups restored and audited
    python -m scripts.cluster down

``up`` starts etcd, the Patroni pair and HAProxy (``database.py``), then the web hosts in
the README's server mode (``ticketledger serve`` on PostgreSQL through HAProxy, rate limits
and the waiting room's queue in the local Redis) and one projection process, each on its
own loopback address (``layout.py``), then the edge in front of them (``edge.py``), and
returns; the API answers on http://127.0.1.1:8080 through HAProxy, the audience's site on
http://127.0.1.2:8080 through the edge.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from scripts.cluster import edge
from scripts.cluster.database import RUN, Database, answers, kill, read_pid
from scripts.cluster.layout import BALANCER, HTTP_PORT, READ_PORT, STATE, WEB_PORT, store_settings, web_addresses
from scripts.harness.processes import ROOT, wait_for

REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


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
    addresses = web_addresses(web)
    Database(addresses, synchronous).up()
    admin = secrets.token_hex(16)
    (STATE / "admin-token").write_text(admin)
    for n, address in enumerate(addresses):
        start(f"web{n + 1}", ["serve"], {**service_settings(f"{address}:{WEB_PORT}"), "ADMIN_TOKEN": admin})
    start("projections", ["projections"], service_settings(""))
    for address in addresses:
        wait_for(lambda a=address: answers(f"http://{a}:{WEB_PORT}/ready"), 60, f"the web host on {address}")
    wait_for(lambda: answers(f"http://{BALANCER}:{HTTP_PORT}/ready"), 30, "HTTP through HAProxy")
    edge.up(addresses, start)
    print(f"up: the API on http://{BALANCER}:{HTTP_PORT} (admin token in {STATE / 'admin-token'})")


def start(name: str, command: list[str], env: dict[str, str]) -> None:
    """A ``ticketledger`` subcommand (or a program named by its path) as the cluster's ``name``."""
    log = open(STATE / f"{name}.log", "ab")
    program = [] if command[0].startswith("/") else [str(Path(sys.executable).parent / "ticketledger")]
    process = subprocess.Popen(
        [*program, *command],
        cwd=ROOT,
        env=os.environ | env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    (RUN / f"{name}.pid").write_text(str(process.pid))


def down() -> None:
    for pid_file in RUN.glob("*.pid") if RUN.exists() else []:
        if pid_file.stem.startswith(("web", "projections", "edge")):
            pid = read_pid(pid_file.stem)
            if pid:
                try:
                    os.killpg(pid, 9)
                except ProcessLookupError:
                    pass
                kill(pid)
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
        up(args.web, not args.asynchronous)
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
