"""Run wrk and gunicorn from Python, so every benchmark drives load the same way.

Standard library only, so it does not depend on what the project's venv happens to hold.
wrk prints one ``BENCH_JSON {...}`` line (see book.lua); ``run_wrk`` returns it as a dict.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def run_wrk(
    url: str,
    connections: int,
    seconds: int,
    threads: int = 2,
    env: dict | None = None,
    lua: str = "book.lua",
    timeout: int | None = None,
) -> dict:
    """Load ``url`` for ``seconds`` and return book.lua's summary plus ``rps``.

    ``env`` is added to os.environ (BENCH_BODY_MODE, BENCH_PATH, BENCH_TIERS ...);
    ``lua`` is relative to this folder unless absolute; ``timeout``: seconds wrk waits for
    an answer (its default 2). ``rps`` divides by the measured
    duration, not the nominal one. Raises RuntimeError if wrk fails or prints no summary.
    """
    threads = max(1, min(threads, connections))  # wrk refuses fewer connections than threads
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", os.path.join(HERE, lua), url]
    if timeout is not None:  # seconds wrk waits for an answer (its default: 2)
        cmd[1:1] = [f"--timeout={timeout}s"]
    wait = seconds + 60 + (timeout or 0)
    proc = subprocess.run(cmd, env=os.environ | (env or {}), capture_output=True, text=True, timeout=wait)
    line = next((out for out in proc.stdout.splitlines() if out.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    result = json.loads(line[len("BENCH_JSON ") :])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result.update(url=url, connections=connections, threads=threads, seconds=seconds)
    return result


def start_gunicorn(
    app_spec: str,
    env: dict | None,
    bind: str,
    workers: int,
    threads: int,
    cwd: str = HERE,
    log_path: str | None = None,
    extra_args: tuple[str, ...] = (),
) -> subprocess.Popen:
    """Start ``python -m gunicorn -k gthread`` serving ``app_spec`` (e.g.
    ``"baseline_app:create_app()"``, importable from ``cwd``).

    ``-c /dev/null`` keeps a gunicorn.conf.py in ``cwd`` (the project has one) from
    overriding the benchmark's settings; pass ``extra_args=("-c", "gunicorn.conf.py")``
    to opt back in. ``--no-control-socket``: gunicorn 27 otherwise binds one fixed
    path (~/.gunicorn/gunicorn.ctl) that two servers running side by side would share.
    Output goes to ``log_path`` (default: a temp file, kept on
    ``proc.log_path``) so a full pipe can never stall the server. A new session lets
    ``stop`` kill stragglers by process group.
    """
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "/dev/null",
        "--no-control-socket",
        "-k",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "-b",
        bind,
        "--chdir",
        cwd,
        *extra_args,
        app_spec,
    ]
    return spawn(cmd, cwd, env, log_path)


def start_project_gunicorn(
    env: dict, bind: str, log_path: str | None = None, extra_args: tuple[str, ...] = ()
) -> subprocess.Popen:
    """Start the project's own server as ``ticketledger serve`` does: gunicorn with the
    project's settings (``web/server/gunicorn_settings.py``, read from ``env``), on ``bind``."""
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:web.server.gunicorn_settings",
        "--no-control-socket",
        "-b",
        bind,
        *extra_args,
    ]
    return spawn(cmd, os.path.dirname(os.path.dirname(HERE)), env, log_path)


def spawn(cmd: list[str], cwd: str, env: dict | None, log_path: str | None) -> subprocess.Popen:
    """Run ``cmd`` in a session of its own, its output in ``log_path`` (default: a temp
    file, kept on ``proc.log_path``) so a full pipe can never stall the server."""
    if log_path is None:
        fd, log_path = tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")
        os.close(fd)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=os.environ | (env or {}), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    proc.log_path = log_path
    return proc


def wait_http(url: str, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until it answers 200; raise TimeoutError (or RuntimeError if ``proc``
    exits first, e.g. gunicorn failed to boot). On this shared host at load average 19,
    gunicorn took over 30 s to boot."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}), see {getattr(proc, 'log_path', 'its log')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout}s")


def wait_idle(url: str, quick: float = 0.05, timeout: float = 60.0) -> None:
    """Wait until ``url`` answers 200 within ``quick`` seconds three times in a row: the
    server has worked off what the previous run left queued (after 4,096 connections a
    backlog of requests that wrk gave up on), so it does not spoil the next run."""
    deadline, quick_ones = time.monotonic() + timeout, 0
    while quick_ones < 3 and time.monotonic() < deadline:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                quick_ones = quick_ones + 1 if response.status == 200 and time.monotonic() - started < quick else 0
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            quick_ones = 0
        time.sleep(0.5)


def stop(proc: subprocess.Popen, timeout: float = 15.0) -> int:
    """SIGTERM the gunicorn master (graceful), wait; SIGKILL its group if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()
