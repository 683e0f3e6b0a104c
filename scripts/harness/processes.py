"""Running the service's real processes, for tests and for ``ticketledger verify``:
gunicorn with the project's ``gunicorn.conf.py``, ``python -m projections``, and a plain
HTTP client to talk to them (urllib: no extra dependency).

Every process starts in a session of its own, so that whoever started it can end it
and all its children (a gunicorn master and its workers) by its id: ``kill_group``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NamedTuple

ROOT = Path(__file__).resolve().parents[2]


class Reply(NamedTuple):
    status: int
    body: Any
    headers: Any  # an http.client.HTTPMessage


# Ports for servers a test cannot hand a socket to (Prometheus, PostgreSQL, an SMTP
# receiver): below the kernel's ephemeral range (32768-60999 here), where the local end of
# any outgoing connection may take a port between a test's choosing it and its server's
# binding it.
SERVER_PORTS = range(20000, 32768)


def free_port() -> int:
    """A loopback port that is free now, outside the ephemeral range, chosen at random (two
    tests running side by side seldom pick the same one; a server that finds it taken fails
    to start, loudly)."""
    while True:
        port = random.choice(SERVER_PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def listening_socket() -> socket.socket:
    """A loopback socket bound to a port of its own and listening, to hand to a server
    (``gunicorn``): nothing else can take the port in between, so whatever answers on it
    is that server."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def call(url: str, body: dict | None = None, headers: dict[str, str] | None = None, timeout: float = 10) -> Reply:
    """One HTTP request with a JSON body (a POST if there is one); error statuses are
    answers too. Connection failures and timeouts raise (``OSError``)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, json.load(response), response.headers)
    except urllib.error.HTTPError as error:
        return Reply(error.code, json.load(error), error.headers)


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def wait_for(condition: Callable[[], Any], timeout: float = 20.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 90.0) -> None:
    """Until ``url`` answers at all; raise if the server exits first or ``timeout`` passes.
    A worker's boot is about 3 s of CPU (imports, the API document): on 2 cores shared with
    three other test processes it has taken over 30 s, which is a busy host, not a fault."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.returncode})")
        try:
            call(url, timeout=5)
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"gunicorn did not answer {url} within {timeout} s")


def start_gunicorn(env: dict[str, str], log: IO[str], bind: int | socket.socket) -> subprocess.Popen:
    """Serve the app with ``gunicorn.conf.py`` (``env`` on top of the OS environment) on a
    port, or on a listening socket handed over (``fd://``), output to ``log``. No control
    socket: gunicorn 27 binds one fixed path for it (~/.gunicorn/gunicorn.ctl), which two
    servers side by side would share."""
    address, fds = (f"127.0.0.1:{bind}", ()) if isinstance(bind, int) else (f"fd://{bind.fileno()}", (bind.fileno(),))
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--no-control-socket"],
        cwd=ROOT,
        env={**os.environ, **env, "BIND": address},
        pass_fds=fds,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@contextmanager
def gunicorn(env: dict[str, str], log: IO[str]) -> Iterator[tuple[str, subprocess.Popen]]:
    """Serve the app on a socket of its own (``listening_socket``); yield the base URL and
    the master process once it answers, and stop it at the end."""
    with listening_socket() as sock:
        server = start_gunicorn(env, log, sock)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        try:
            wait_until_up(f"{base}/health", server)
            yield base, server
        finally:
            stop(server)


def run_projection_process(env: dict[str, str], output: IO[str] | int = subprocess.PIPE) -> subprocess.Popen:
    """``python -m projections`` with ``env`` on top of the OS environment; its log goes
    to ``output`` (a pipe unless given a file)."""
    return subprocess.Popen(
        [sys.executable, "-m", "projections"],
        env={**os.environ, "PROJECTION_POLL_INTERVAL": "0.05", **env},
        cwd=ROOT,
        stderr=output,
        text=True,
        start_new_session=True,
    )


def children(pid: int) -> list[int]:
    """A process's children (a gunicorn master's: its workers)."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def busiest(pids: list[int]) -> int:
    """The process with the most open sockets (client connections and pooled database
    connections): killing it cuts off the most requests in flight."""

    def sockets(pid: int) -> int:
        try:
            return sum(link(fd).startswith("socket:") for fd in Path(f"/proc/{pid}/fd").iterdir())
        except FileNotFoundError:  # it has just exited
            return -1

    def link(fd: Path) -> str:
        try:
            return os.readlink(fd)
        except FileNotFoundError:  # closed since the listing: a busy worker's sockets come and go
            return ""

    return max(pids, key=sockets)


def stop(process: subprocess.Popen, grace: float = 30.0) -> None:
    """SIGTERM, then wait up to ``grace`` seconds; whatever of its session is left then
    gets SIGKILL."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    kill_group(process)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process and everything in its session (a gunicorn master's workers
    too), as a machine that loses power would; then reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the whole session has gone already
    process.wait(timeout=30)
