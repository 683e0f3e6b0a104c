"""Run the installed ``ticketledger`` command the way a user does.

The console script beside the test run's interpreter, not ``scripts.commands.cli.main`` in this
process: that way the ``[project.scripts]`` entry point is tested too, and each command
builds its ledger from the environment it is given.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICKETLEDGER = Path(sys.executable).with_name("ticketledger")


def ticketledger(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(TICKETLEDGER), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
