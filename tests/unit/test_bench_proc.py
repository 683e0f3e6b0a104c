"""The benchmarks' CPU per process, read from /proc: this test's own process, and its child."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from scripts.bench.kit import cpu_seconds, process_stats, read_stat


def test_a_process_stat_gives_its_parent_name_and_cpu():
    started = time.process_time()
    while time.process_time() - started < 0.05:  # spend some CPU to be seen
        pass
    stat = read_stat(Path(f"/proc/{os.getpid()}/stat"))
    assert stat is not None and (stat.pid, stat.ppid) == (os.getpid(), os.getppid())
    assert stat.cpu >= 0.05 - 0.02  # clock ticks of 10 ms
    assert read_stat(Path("/proc/999999999/stat")) is None
    assert os.getpid() in {s.pid for s in process_stats()}


def test_cpu_seconds_adds_up_the_children_of_a_process():
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.2: pass\nprint(flush=True)\ninput()"
    child = subprocess.Popen([sys.executable, "-c", burn], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        child.stdout.readline()  # it has burnt its 0.2 s
        assert cpu_seconds(os.getpid()) >= 0.18
    finally:
        child.communicate("\n")
