"""The topology's processes are recorded as they start, so ``make cluster-down`` ends each by
its id (a web host gracefully: SIGTERM, time to answer, then SIGKILL) and ``make cluster``
over a running topology starts again, as it was, whatever has died."""

from __future__ import annotations

import sys

import pytest

from scripts.cluster import recorded
from scripts.harness.processes import wait_for

# A "web host" that, told to stop, finishes what it is doing (writes a line) and exits.
GRACEFUL_SERVER = """
import signal, sys, time
def stop(*_):
    open("stopped", "w").write("answered what was in flight")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
open("started", "a").write("x")
while True:
    time.sleep(0.1)
"""
STUBBORN_SERVER = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: time.sleep(0.1)"


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setattr(recorded, "STATE", tmp_path)
    monkeypatch.setattr(recorded, "RUN", tmp_path / "run")
    monkeypatch.setattr(recorded, "GRACE", 1.0)
    monkeypatch.setattr(recorded.links, "place", lambda pid, host: None)  # the machine's cgroups untouched
    yield tmp_path
    for name in recorded.names():
        recorded.signal_session(recorded.pid_of(name) or 0, 9)


def wait_for_file(path, timeout: float = 10.0) -> None:
    wait_for(path.exists, timeout, str(path))


def test_a_web_host_is_stopped_gracefully_and_nothing_recorded_survives(state):
    recorded.spawn("web1", [sys.executable, "-c", GRACEFUL_SERVER])
    wait_for_file(state / "started")
    recorded.end("web1")
    assert (state / "stopped").read_text() == "answered what was in flight"
    assert not recorded.alive("web1")


def test_a_web_host_that_will_not_stop_is_killed_after_the_grace(state):
    recorded.spawn("web1", [sys.executable, "-c", STUBBORN_SERVER])
    assert recorded.alive("web1")
    recorded.end("web1")
    assert not recorded.alive("web1")


def test_the_database_side_is_killed_at_once(state):
    recorded.spawn("etcd1", [sys.executable, "-c", GRACEFUL_SERVER])
    wait_for_file(state / "started")
    recorded.end("etcd1")
    assert not (state / "stopped").exists() and not recorded.alive("etcd1")


def test_what_died_is_started_again_as_it_was(state):
    first = recorded.spawn("web1", [sys.executable, "-c", GRACEFUL_SERVER], {"SOME_SETTING": "kept"})
    wait_for_file(state / "started")
    recorded.signal_session(first, 9)
    recorded.wait_gone(first, 10)
    assert recorded.names() == ["web1"] and not recorded.alive("web1")
    second = recorded.respawn("web1")
    assert second != first and recorded.alive("web1")
    wait_for(lambda: (state / "started").read_text() == "xx", 10, "the second start")
    assert '"SOME_SETTING": "kept"' in (recorded.RUN / "web1.json").read_text()
