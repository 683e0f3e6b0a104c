"""``scripts/harness/prepare_tests.sh``, which ``make test`` runs before pytest: with everything
there it only looks (installs nothing, starts nothing, says nothing), and what cannot be
had stops it at once with one line saying what to install. What it cannot find is
simulated with a PATH that lacks the program, and programs that must not run are stubs
that note their call."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from scripts.harness.processes import ROOT, free_port

SCRIPT = ROOT / "scripts" / "harness" / "prepare_tests.sh"
# What the script itself runs besides the programs it checks for.
BASICS = ("bash", "id", "timeout", "sleep", "mkdir", "ls", "sort", "tail", "seq")


def stub(folder: Path, name: str, calls: Path, exit_code: int = 1, noise: int = 0) -> None:
    """A program that notes its call in ``calls``, prints ``noise`` lines and exits with ``exit_code``."""
    (folder / name).write_text(
        f'#!/bin/bash\necho "{name} $*" >> {calls}\n'
        f'for i in $(seq {noise}); do echo "E: noise $i"; done\nexit {exit_code}\n'
    )
    (folder / name).chmod(0o755)


def run(path: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT)], env={**os.environ, "PATH": path, **env}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.postgres
def test_with_everything_there_it_installs_and_starts_nothing(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    for name in ("apt-get", "sudo", "pg_ctlcluster", "redis-server"):
        stub(tmp_path, name, calls)
    for _ in range(2):  # and again: nothing changes
        result = run(f"{tmp_path}:{os.environ['PATH']}")
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert not calls.exists()


@pytest.mark.parametrize("apt", ["fails", "absent"])
def test_postgresql_that_cannot_be_installed_stops_it_with_one_line(tmp_path: Path, apt: str) -> None:
    """No PostgreSQL programs on the PATH, nothing on the port, and apt-get failing
    (400 lines of it) or absent."""
    calls = tmp_path / "calls"
    for name in BASICS:
        (tmp_path / name).symlink_to(shutil.which(name))
    if apt == "fails":
        stub(tmp_path, "apt-get", calls, exit_code=100, noise=400)
    result = run(str(tmp_path), POSTGRES_PORT=str(free_port()))
    assert result.returncode == 1
    assert result.stdout == ""
    *progress, last = result.stderr.splitlines()
    assert "postgresql" in last and "install" in last
    assert "noise" not in result.stderr
    if apt == "fails":
        assert progress == ["make test: installing postgresql with apt-get (log: var/prepare_tests.log)"]
        assert calls.read_text().splitlines() == ["apt-get update -q"]
    else:
        assert progress == []


@pytest.mark.postgres
def test_a_postgresql_busy_with_other_test_runs_gets_a_few_seconds(tmp_path: Path) -> None:
    """psql refused twice with "too many clients", then answering: no error, nothing said."""
    calls = tmp_path / "calls"
    (tmp_path / "psql").write_text(
        f'#!/bin/bash\necho "psql" >> {calls}\n'
        f'[ $(wc -l < {calls}) -gt 2 ] && exec {shutil.which("psql")} "$@"\n'
        'echo "psql: error: FATAL:  sorry, too many clients already" >&2; exit 2\n'
    )
    (tmp_path / "psql").chmod(0o755)
    result = run(f"{tmp_path}:{os.environ['PATH']}")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert calls.read_text().count("psql") == 3


def test_a_remote_postgresql_that_does_not_answer_stops_it_with_one_line() -> None:
    """Not on this machine, so nothing to start: it says so."""
    port = free_port()
    result = run(os.environ["PATH"], POSTGRES_HOST="127.0.0.2", POSTGRES_PORT=str(port))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"make test: PostgreSQL at 127.0.0.2:{port} does not answer: start it, or set POSTGRES_HOST/POSTGRES_PORT\n"
    )
