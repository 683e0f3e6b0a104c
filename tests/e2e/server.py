"""A real gunicorn server for end-to-end tests, and plain-HTTP helpers to talk to it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, body: dict | None = None) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


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
def gunicorn(settings: dict[str, str], log_path: Path) -> Iterator[tuple[str, Path]]:
    """Run ``gunicorn -c gunicorn.conf.py`` with ``settings`` on a free port until the
    block ends; yields the base URL and the log file (stdout and stderr)."""
    port = free_port()
    env = {**os.environ, **settings, "BIND": f"127.0.0.1:{port}"}
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{base}/health", server)
            yield base, log_path
        finally:
            server.terminate()
            server.wait(timeout=30)
