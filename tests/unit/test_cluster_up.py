"""``make cluster`` never leaves an orphan: over a running topology of another shape, or with
an address of the topology held by a process it did not record, it refuses and says what to
do; over a running topology whose processes all run, it touches nothing."""

from __future__ import annotations

import socket
import sys

import pytest

from scripts.cluster import __main__ as cluster
from scripts.cluster import recorded


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setattr(recorded, "STATE", tmp_path)
    monkeypatch.setattr(recorded, "RUN", tmp_path / "run")
    monkeypatch.setattr(recorded.links, "place", lambda pid, host: None)
    yield tmp_path
    for name in recorded.names():
        recorded.signal_session(recorded.pid_of(name) or 0, 9)


def test_an_address_held_by_an_unrecorded_process_is_refused_before_anything_starts(state, monkeypatch):
    with socket.socket() as orphan:
        orphan.bind(("127.0.1.250", 0))
        orphan.listen()
        port = orphan.getsockname()[1]
        monkeypatch.setattr(cluster, "LISTENERS", [("127.0.1.250", port)])
        monkeypatch.setattr(cluster, "Database", None)  # reached only if it did not refuse
        with pytest.raises(cluster.Refused, match=f"127.0.1.250:{port} already taken"):
            cluster.up(0, synchronous=True)


def test_another_number_of_web_hosts_than_the_running_one_is_refused(state):
    recorded.spawn("web1", [sys.executable, "-c", "import time; time.sleep(60)"])
    with pytest.raises(cluster.Refused, match="has 1 web hosts, not 2: run make cluster-down first"):
        cluster.up(2, synchronous=True)
    assert recorded.alive("web1")  # refusing ends nothing


def test_over_a_running_topology_nothing_is_started_again(state, monkeypatch, capsys):
    first = recorded.spawn("web1", [sys.executable, "-c", "import time; time.sleep(60)"])
    monkeypatch.setattr(cluster, "wait_until_served", lambda addresses: None)
    cluster.up(1, synchronous=True)
    assert recorded.pid_of("web1") == first
    assert "started again nothing" in capsys.readouterr().out


def test_an_address_whose_last_connections_wait_to_close_is_free(state, monkeypatch):
    """Right after make cluster-down, the ended servers' connections sit in TIME_WAIT on their
    addresses for a minute: make cluster must start then, not call them orphans."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.1.251", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.1.251", port)) as client:
            accepted, _ = server.accept()
            accepted.close()  # the server's side closes first: its address:port waits in TIME_WAIT
            client.recv(1)
    assert not cluster.in_use("127.0.1.251", port)
    monkeypatch.setattr(cluster, "LISTENERS", [("127.0.1.251", port)])
    monkeypatch.setattr(cluster, "Database", None)  # reached once it did not refuse
    with pytest.raises(TypeError):
        cluster.up(0, synchronous=True)
