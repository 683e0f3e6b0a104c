"""Publish the tier list to the edge once per change.

One publisher for the whole site asks a web host for ``GET /api/tickets`` with the ETag
it has (a 304 while the list is unchanged: a few cheap requests a second, however large
the audience), over one kept-alive connection: every answer comes from the same server
process, whose copy of the list only moves forward (two processes' copies, each up to
0.1 s old, taken in turn, would publish a list, then an older one, then the newer again).
It POSTs each new list, exactly the bytes the origin answers, to every edge's nchan
publisher location; nchan hands it to every subscriber. An edge that did
not take a list (down, restarting) gets it again at the next turn, and one that lost its
channel (restarted with empty memory) gets the latest when the publisher sees that.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from urllib.parse import urlsplit

INTERVAL_SECONDS = 0.1  # a 304 before Flask costs the origin little; the origin's copy is itself at most 0.1 s old
CHECK_SECONDS = 5.0  # how often to ask each edge whether it still holds the channel
TIMEOUT_SECONDS = 2.0

log = logging.getLogger(__name__)


class Publisher:
    """The list from the first of ``origins`` that answers, to every one of ``edges``
    (nchan publisher URLs)."""

    def __init__(self, origins: Sequence[str], edges: Sequence[str]) -> None:
        self.origins = list(origins)
        self.edges = list(edges)
        self.etag: str | None = None
        self.body = b""
        self.published: dict[str, str | None] = dict.fromkeys(self.edges)  # edge -> ETag it holds
        self.checked = time.monotonic()
        self.publications = 0  # lists taken by an edge
        self.connection: http.client.HTTPConnection | None = None

    def turn(self) -> None:
        """Read the list once; publish it where it is not yet."""
        self.read()
        if time.monotonic() - self.checked >= CHECK_SECONDS:
            self.checked = time.monotonic()
            for edge in self.edges:
                if not self.holds_channel(edge):
                    self.published[edge] = None
        for edge, etag in self.published.items():
            if self.etag is not None and etag != self.etag:
                self.publish(edge)

    def read(self) -> None:
        for _ in self.origins:
            try:
                answer = self.ask_origin()
            except (OSError, http.client.HTTPException) as error:
                log.warning("origin %s did not answer: %s", self.origins[0], error)
            else:
                if answer.status == 200:
                    self.etag = answer.headers["ETag"]
                    return
                if answer.status == 304:
                    return
                log.warning("origin %s answered %s", self.origins[0], answer.status)
            if self.connection is not None:
                self.connection.close()
                self.connection = None
            self.origins.append(self.origins.pop(0))  # the next one first from now on

    def ask_origin(self) -> http.client.HTTPResponse:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(urlsplit(self.origins[0]).netloc, timeout=TIMEOUT_SECONDS)
        self.connection.request("GET", "/api/tickets", headers={"If-None-Match": self.etag} if self.etag else {})
        answer = self.connection.getresponse()
        body = answer.read()
        if answer.status == 200:
            self.body = body
        return answer

    def publish(self, edge: str) -> None:
        request = urllib.request.Request(
            edge, data=self.body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS):
                self.published[edge] = self.etag
                self.publications += 1
        except OSError as error:
            log.warning("edge %s did not take the list: %s", edge, error)

    def holds_channel(self, edge: str) -> bool:
        """Whether ``edge`` still has the channel (nchan answers 404 for one it does not hold)."""
        try:
            with urllib.request.urlopen(
                urllib.request.Request(edge, headers={"Accept": "text/json"}), timeout=TIMEOUT_SECONDS
            ):
                return True
        except urllib.error.HTTPError as error:
            return error.code != 404
        except OSError:
            return False

    def run(self, stop: threading.Event, interval: float = INTERVAL_SECONDS) -> None:
        while not stop.is_set():
            self.turn()
            stop.wait(interval)
