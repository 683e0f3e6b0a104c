"""Base backups and a WAL archive with pgBackRest, and the drill that proves they restore.

Every node archives its WAL into one pgBackRest repository (``archive_command``, set in
Patroni's configuration, so whichever node leads archives), from the first minute: the
stanza is created as soon as the first node leads (``create_stanza``), and ``make
cluster-status`` runs ``pgbackrest check`` (``check``); ``backup`` takes a full base
backup from the leader. ``drill`` (``make restore-drill``) restores the newest backup with
the archive to a point in time onto a fresh node (its own host, 127.0.1.30), starts it, and
audits every tier there: the bookings answered before that time are all there, the ones
after it none, and every tier's history replays with its books balanced.
"""

from __future__ import annotations

import subprocess
import time

import psycopg

from scripts.cluster.layout import NODES, PG_BIN, PG_PORT, PGBACKREST_CONFIG, SCOPE, STATE

CONFIG = PGBACKREST_CONFIG
REPOSITORY = STATE / "backup"
DRILL = STATE / "drill"
DRILL_ADDRESS = "127.0.1.30"


def config_text() -> str:
    """One stanza over every node: pgBackRest finds which one leads when it backs up."""
    nodes = "\n".join(
        f"pg{n}-path={node.folder / 'data'}\npg{n}-socket-path={node.folder}\npg{n}-port={PG_PORT}"
        for n, node in enumerate(NODES, start=1)
    )
    return f"""[global]
repo1-path={REPOSITORY}
repo1-retention-full=2
log-path={STATE / "pgbackrest-log"}
lock-path={STATE / "pgbackrest-lock"}
log-level-console=warn
start-fast=y

[{SCOPE}]
{nodes}
"""


def prepare() -> None:
    """The configuration and the repository, before the nodes start archiving."""
    folders = (REPOSITORY, STATE / "pgbackrest-log", STATE / "pgbackrest-lock")
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    CONFIG.write_text(config_text())
    subprocess.run(["chown", "-R", "postgres:postgres", *map(str, folders), str(CONFIG)], check=True)


def pgbackrest(as_postgres: list[str], *args: str) -> str:
    done = subprocess.run(
        [*as_postgres, "pgbackrest", f"--config={CONFIG}", f"--stanza={SCOPE}", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=STATE,
    )
    if done.returncode:
        raise RuntimeError(f"pgbackrest {' '.join(args)} failed: {done.stderr or done.stdout}")
    return done.stdout


def create_stanza(as_postgres: list[str]) -> None:
    """The stanza, on the leader (idempotent): until it exists every ``archive-push`` fails."""
    pgbackrest(as_postgres, "stanza-create")


def check(as_postgres: list[str]) -> str:
    """``pgbackrest check``: the leader switches to a new WAL segment and it must reach the
    repository. ``ok``, or what failed."""
    try:
        pgbackrest(as_postgres, "--archive-timeout=30", "check")
        return "ok"
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        return str(error).strip()


def backup(as_postgres: list[str]) -> None:
    """A full base backup from the leader, after a check that archiving works."""
    pgbackrest(as_postgres, "check")
    pgbackrest(as_postgres, "--type=full", "backup")


def restore_to(as_postgres: list[str], target: str) -> dict[str, str]:
    """Restore the newest backup and the archive up to ``target`` (a PostgreSQL timestamp)
    into a fresh data folder, start it on the drill's own address, and wait until it has
    promoted itself; the ``POSTGRES_*`` settings to read it."""
    subprocess.run(["rm", "-rf", str(DRILL)], check=True)
    (DRILL / "data").mkdir(parents=True)
    subprocess.run(["chown", "-R", "postgres:postgres", str(DRILL)], check=True)
    (DRILL / "data").chmod(0o700)
    pgbackrest(
        as_postgres,
        f"--pg1-path={DRILL / 'data'}",
        "--type=time",
        f"--target={target}",
        "--target-action=promote",
        "restore",
    )
    options = (
        f"-c listen_addresses={DRILL_ADDRESS} -c port={PG_PORT} -c unix_socket_directories={DRILL} "
        "-c archive_mode=off -c hot_standby=on"
    )
    subprocess.run(
        [*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(DRILL / "data"), "-o", options, "-w", "-t", "120", "start"]
        + ["-l", str(DRILL / "postgres.log")],
        check=True,
        capture_output=True,
        timeout=180,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(host=DRILL_ADDRESS, port=PG_PORT, dbname="postgres", user="postgres") as conn:
                if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                    break
        except psycopg.Error:
            pass
        time.sleep(0.5)
    else:
        raise TimeoutError(f"the restored node did not promote; see {DRILL / 'postgres.log'}")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_HOST": DRILL_ADDRESS,
        "POSTGRES_PORT": str(PG_PORT),
        "POSTGRES_DBNAME": "postgres",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "postgres",
    }


def stop_drill(as_postgres: list[str]) -> None:
    if (DRILL / "data" / "postmaster.pid").exists():
        subprocess.run([*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(DRILL / "data"), "-m", "immediate", "stop"])
    subprocess.run(["rm", "-rf", str(DRILL)])
