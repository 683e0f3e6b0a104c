"""``ticketledger serve`` from an installed wheel, not the checkout: the gunicorn settings
are part of the package, so the server starts from any folder of any machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.harness.processes import ROOT, call, free_port, wait_until_up

pytestmark = pytest.mark.slow


def test_ticketledger_serve_from_an_installed_wheel_answers_outside_the_checkout(tmp_path: Path):
    source, wheels, venv, elsewhere = (tmp_path / name for name in ("source", "wheels", "venv", "elsewhere"))
    # Built from a clean copy: setuptools builds in the source folder, and a stale build/ there
    # would put deleted modules in the wheel.
    shutil.copytree(
        ROOT, source, ignore=shutil.ignore_patterns(".*", "build", "var", "tests", "*.egg-info", "__pycache__")
    )
    elsewhere.mkdir()
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(source))
    run(sys.executable, "-m", "venv", str(venv))
    run(str(venv / "bin/pip"), "install", "--quiet", *map(str, wheels.glob("ticket_ledger-*.whl")))
    where = run(
        str(venv / "bin/python"), "-c", "import scripts, web; print(scripts.__file__, web.__file__)", cwd=elsewhere
    )
    assert all(path.startswith(str(venv)) for path in where.split()), where  # not the checkout

    port = free_port()
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "BIND": f"127.0.0.1:{port}",
        "DEMO_TIERS": "VIP:100.00:4",
    }
    with open(tmp_path / "serve.log", "w+") as log:
        server = subprocess.Popen(
            [str(venv / "bin/ticketledger"), "serve"], cwd=elsewhere, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_until_up(f"http://127.0.0.1:{port}/health", server)
            status, tiers, _ = call(f"http://127.0.0.1:{port}/api/tickets")
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert (status, [(t["tier"], t["availableQuantity"]) for t in tiers]) == (200, [("VIP", 4)])
    assert (elsewhere / "var/ledger.sqlite3").is_file()  # the default store, beside where it was started


def run(*command: str, cwd: Path | None = None) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
