"""``make switchover`` (``scripts/cluster/switchover.py``) against three stand-ins for Patroni's
REST API: it asks the leader to hand over naming no candidate (a named one makes the other
standby wait 2 s before it follows), and returns the node that leads once it does."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from scripts.cluster.layout import REST_PORT, Node
from scripts.cluster.switchover import switchover

NODES = (Node("node1", "127.0.4.11"), Node("node2", "127.0.4.12"), Node("node3", "127.0.4.13"))


class Cluster:
    """Who leads, and the switchover requests each node was sent."""

    def __init__(self) -> None:
        self.leader = "node1"
        self.requests: list[tuple[str, dict]] = []
        self.refusal: str | None = None

    def handler(self, name: str) -> type[BaseHTTPRequestHandler]:
        cluster = self

        class Patroni(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.answer(200, {"role": "primary" if cluster.leader == name else "replica"})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                cluster.requests.append((name, body))
                if cluster.refusal:
                    return self.answer(412, {"error": cluster.refusal})
                cluster.leader = "node3"  # the healthiest standby won the race
                self.answer(200, {"message": "Successfully switched over"})

            def answer(self, status: int, body: dict) -> None:
                self.send_response(status)
                self.end_headers()
                self.wfile.write(json.dumps(body).encode())

            def log_message(self, *_: object) -> None:
                pass

        return Patroni


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    state = Cluster()
    servers = [ThreadingHTTPServer((node.address, REST_PORT), state.handler(node.name)) for node in NODES]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_switchover_asks_the_leader_naming_no_candidate_and_returns_the_new_leader(cluster):
    assert switchover(NODES).name == "node3"
    assert cluster.requests == [("node1", {"leader": "node1"})]


def test_a_switchover_patroni_refuses_raises_its_reason_and_changes_nothing(cluster):
    cluster.refusal = "switchover is not possible: cluster does not have members except leader"
    with pytest.raises(RuntimeError, match="does not have members"):
        switchover(NODES)
    assert cluster.leader == "node1"
