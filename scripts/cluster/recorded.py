"""The topology's processes, each recorded when it starts (``STATE/run/<name>.pid`` and
``<name>.json``: its command, environment and folder), so that ``make cluster-down`` ends
every one of them by its id, and ``make cluster`` over a running topology can tell what is
running and start again, as it was, whatever has died.

Every process runs detached, in a session of its own (so ``make cluster`` can return),
its output in ``STATE/<name>.log``, in a cgroup of its own (``links.py``). Web hosts and
the projection process are stopped gracefully (SIGTERM to the session, up to ``GRACE`` seconds to answer the requests in
flight, then SIGKILL); the database side is killed, as a host losing power would be.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from scripts.cluster import links
from scripts.cluster.layout import STATE

RUN = STATE / "run"
GRACE = 20.0  # seconds a web host may take to finish its requests before it is killed
GRACEFUL = ("web", "projections")  # names (prefixes) stopped with SIGTERM first


def spawn(name: str, command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
    """Start ``command`` (``env`` on top of the OS environment, in ``cwd``, by default the
    topology's folder) and record it as ``name``."""
    cwd = cwd or STATE
    RUN.mkdir(parents=True, exist_ok=True)
    log = open(STATE / f"{name}.log", "ab")
    process = subprocess.Popen(
        command,
        env=os.environ | (env or {}),
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    links.place(process.pid, name)  # so a rule can cut this host off (links.py)
    (RUN / f"{name}.json").write_text(json.dumps({"command": command, "env": env or {}, "cwd": str(cwd)}))
    (RUN / f"{name}.pid").write_text(str(process.pid))
    return process.pid


def respawn(name: str) -> int:
    """Start ``name`` again as it was first started."""
    spec = json.loads((RUN / f"{name}.json").read_text())
    return spawn(name, spec["command"], spec["env"], Path(spec["cwd"]))


def names() -> list[str]:
    """Every process recorded, dead or alive."""
    return sorted(p.stem for p in RUN.glob("*.pid")) if RUN.exists() else []


def pid_of(name: str) -> int | None:
    try:
        return int((RUN / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None


def alive(name: str) -> bool:
    pid = pid_of(name)
    return pid is not None and running(pid)


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not reaped by its parent, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def end(name: str) -> None:
    """End ``name``'s session: gracefully if it serves requests, else at once."""
    pid = pid_of(name)
    if pid is None:
        return
    if name.startswith(GRACEFUL):
        signal_session(pid, signal.SIGTERM)
        wait_gone(pid, GRACE)
    signal_session(pid, signal.SIGKILL)
    wait_gone(pid, 10)


def kill(pid: int | None) -> None:
    """SIGKILL one process (not its session) and wait until it is gone."""
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    wait_gone(pid, 10)


def signal_session(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the whole session has gone already


def wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running(pid):
        time.sleep(0.05)
