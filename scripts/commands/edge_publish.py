"""Publish the tier list to the edges (nchan) once per change.

    EDGE_ORIGIN_URLS=http://127.0.1.21:8000 \
    EDGE_PUBLISH_URLS=http://127.0.1.2:8081/publish/tiers ticketledger edge-publish

Asks the web hosts (EDGE_ORIGIN_URLS, the first that answers) for GET /api/tickets a few
times a second with its ETag and posts each new list to every edge (EDGE_PUBLISH_URLS):
see docs/production.md, "The edge". Without EDGE_PUBLISH_URLS there is nothing to do.
"""

import argparse
import logging
import os
import sys
import threading

from scripts.edge.publisher import Publisher


def run(args: argparse.Namespace) -> int:
    edges = [url for url in os.environ.get("EDGE_PUBLISH_URLS", "").split(",") if url]
    origins = [url for url in os.environ.get("EDGE_ORIGIN_URLS", "http://127.0.0.1:8000").split(",") if url]
    if not edges:
        print("EDGE_PUBLISH_URLS is empty: no edge to publish to", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO)
    try:
        Publisher(origins, edges).run(threading.Event())
    except KeyboardInterrupt:
        pass
    return 0
