"""The edge of ``make cluster``: nginx with nchan on its own host, 127.0.1.2, in front of
the web hosts, and the publisher that sends it each change of the tier list
(docs/production.md, "The edge").

    127.0.1.2   the edge (:8080: the site for the audience; :8081: nchan's publisher
                location, for the publisher only)

The publisher asks the first web host directly (not through HAProxy, which would spread
its requests over the hosts' copies of the list: scripts/edge/publisher.py says why).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from scripts.cluster.database import answers
from scripts.cluster.layout import STATE, WEB_PORT
from scripts.edge.config import NGINX, render
from scripts.harness.processes import wait_for

EDGE = "127.0.1.2"
EDGE_PORT, PUBLISH_PORT = 8080, 8081
PUBLISH_URL = f"http://{EDGE}:{PUBLISH_PORT}/publish/tiers"


def up(web: list[str], start: Callable[[str, list[str], dict[str, str]], None]) -> None:
    """Start the edge before ``web`` (the web hosts' addresses) and the publisher, with
    ``start`` (``__main__.start``: a named process of the cluster) for the publisher."""
    folder = STATE / "edge"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "cache"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    conf = folder / "nginx.conf"
    origins = [f"{address}:{WEB_PORT}" for address in web]
    conf.write_text(render(f"{EDGE}:{EDGE_PORT}", f"{EDGE}:{PUBLISH_PORT}", origins, folder))
    subprocess.run([NGINX, "-t", "-q", "-c", str(conf)], check=True)
    start("edge", [NGINX, "-c", str(conf)], {})
    origin_urls = ",".join(f"http://{origin}" for origin in origins)
    start("edge-publisher", ["edge-publish"], {"EDGE_ORIGIN_URLS": origin_urls, "EDGE_PUBLISH_URLS": PUBLISH_URL})
    wait_for(lambda: answers(f"http://{EDGE}:{EDGE_PORT}/edge/health"), 30, "the edge")
    print(f"up: the edge on http://{EDGE}:{EDGE_PORT} (the tier list published to {PUBLISH_URL})")
