"""The webhook Alertmanager notifies (``monitoring/alertmanager.yml``): it appends every
notice it gets, with the time it got it, as one JSON line to a file, so an operator (or a
test) can read which alert fired and resolved when.

    python -m scripts.cluster.alert_receiver --bind 127.0.1.90:9095 --record alerts.jsonl
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def receiver(bind: str, record: Path) -> ThreadingHTTPServer:
    """A server on ``bind`` (host:port) that records each POSTed notice to ``record``."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                notice = json.loads(body)
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            line = json.dumps({"received": time.time(), "notice": notice})
            with lock, record.open("a") as file:
                file.write(line + "\n")
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the record is the log."""

    host, port = bind.rsplit(":", 1)
    return ThreadingHTTPServer((host, int(port)), Handler)


def received(record: Path) -> list[dict]:
    """Every notice recorded so far, oldest first: ``{"received": epoch seconds, "notice": ...}``."""
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines() if line]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.cluster.alert_receiver", description=__doc__)
    parser.add_argument("--bind", required=True, help="host:port to listen on")
    parser.add_argument("--record", required=True, type=Path, help="the JSON-lines file notices are appended to")
    args = parser.parse_args(argv)
    receiver(args.bind, args.record).serve_forever()


if __name__ == "__main__":
    main()
