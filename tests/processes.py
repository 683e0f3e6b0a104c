"""Helpers for tests that run the real processes: gunicorn, ``python -m projections``,
and a plain HTTP client to talk to them (urllib: no extra dependency)."""

from __future__ import annotations

import json
import os
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

import pytest

ROOT = Path(__file__).resolve().parents[1]


class Reply(NamedTuple):
    status: int
    body: Any
    headers: Any  # an http.client.HTTPMessage


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)


def wait_until_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, "gunicorn exited"
        try:
            call(url)
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("gunicorn did not answer")


@contextmanager
def gunicorn(env: dict[str, str], log: IO[str]) -> Iterator[tuple[str, subprocess.Popen]]:
    """Serve the app with ``gunicorn.conf.py`` on a free port (``env`` on top of the OS
    environment), output to ``log``; yield the base URL and the master process once it
    answers, and stop it at the end."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT,
                              env={**os.environ, **env, "BIND": f"127.0.0.1:{port}"},
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/health", server)
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextmanager
def clean_gunicorn(env: dict[str, str], folder: Path) -> Iterator[str]:
    """``gunicorn`` with its log in ``folder/gunicorn.log``; yield the base URL. At the end
    the log must hold no traceback: an error the answers hid still fails the test."""
    with open(folder / "gunicorn.log", "w+") as log:
        with gunicorn(env, log) as (base, _):
            yield base
        log.seek(0)
        output = log.read()
    assert "Traceback" not in output, output


def run_projection_process(env: dict[str, str], output: IO[str] | int = subprocess.PIPE) -> subprocess.Popen:
    """``python -m projections`` with ``env`` on top of the OS environment; its log goes
    to ``output`` (a pipe unless given a file)."""
    return subprocess.Popen(
        [sys.executable, "-m", "projections"],
        env={**os.environ, **env, "PROJECTION_POLL_INTERVAL": "0.05"},
        cwd=ROOT,
        stderr=output,
        text=True,
    )
