"""Client threads for tests and ``ticketledger verify``: started by a ``with`` block, told to
stop at its end, and joined."""

from __future__ import annotations

import threading


class Clients:
    """Threads that send requests until the ``with`` block ends; then each finishes what
    it is doing and is joined (within ``join_timeout`` seconds, if set)."""

    join_timeout: float | None = None

    def __init__(self, threads: list[threading.Thread]) -> None:
        self._stop = threading.Event()
        self._threads = threads

    def __enter__(self) -> Clients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.join_timeout)
        assert not any(t.is_alive() for t in self._threads), "a client is still sending: its outcome is missing"
