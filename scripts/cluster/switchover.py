"""The operator's switchover: ``make switchover`` (``python -m scripts.cluster.switchover``),
and the questions to Patroni's REST API it needs, with nothing but the standard library.

It sends the request ``patronictl switchover --leader <leader> --force`` sends (``POST
/switchover`` to the leader's Patroni, naming no candidate: docs/production.md, "Where the
switchover's seconds go") and returns once another node leads. It is cheap to start
(about 0.2 s; ``patronictl`` takes 1.4–1.7 s on a loaded host before it sends anything), so
the first booking after a switchover comes that much sooner. The same request by hand:
``curl -X POST http://<leader>:8008/switchover -d '{"leader": "<leader name>"}'``.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from scripts.cluster.layout import NODES, Node
from scripts.harness.processes import wait_for

HANDED_OVER = 60.0  # seconds for Patroni to answer the request, and for another node to lead


def role(node: Node) -> str | None:
    """``primary`` or ``replica`` as Patroni reports it, or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{node.rest}/patroni", timeout=2) as answer:
            return str(json.load(answer).get("role")) if answer.status == 200 else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def leader(nodes: Sequence[Node] = NODES) -> Node | None:
    """The node whose Patroni says it leads, every node asked at once (a loaded Patroni takes
    a good part of a second to answer: asked in turn, the switchover's request waited for each)."""
    with ThreadPoolExecutor(len(nodes)) as pool:
        roles = list(pool.map(role, nodes))
    return next((node for node, said in zip(nodes, roles, strict=True) if said == "primary"), None)


def switchover(nodes: Sequence[Node] = NODES) -> Node:
    """Hand the leader's role to the healthiest standby; the new leader. No candidate is
    named: Patroni makes every standby that is not a named candidate wait 2 s before it
    follows the new leader (``time.sleep(2)`` in ``Ha.process_unhealthy_cluster``), and quorum
    commit waits for one to stream from it; with none named, the standbys race for the key
    and the loser follows at once."""
    old = leader(nodes)
    if old is None:
        raise RuntimeError("no node leads: nothing to switch over from")
    body = json.dumps({"leader": old.name}).encode()
    request = urllib.request.Request(f"{old.rest}/switchover", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=HANDED_OVER) as answer:
            answer.read()
    except urllib.error.HTTPError as refused:
        raise RuntimeError(f"switchover refused: {refused.read().decode()}") from None
    wait_for(lambda: leader(nodes) not in (None, old), HANDED_OVER, "another node to lead")
    new = leader(nodes)
    assert new is not None
    return new


def main() -> int:
    started = time.monotonic()
    try:
        new = switchover()
    except RuntimeError as error:
        print(f"make switchover: {error}", file=sys.stderr)
        return 1
    print(f"switchover: {new.name} leads, {time.monotonic() - started:.1f} s after the request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
