"""The history of a verification run: every HTTP attempt the clients made and what came
of it, and every fault injected, kept as JSON lines so that a failing run can be read.

One line per record, each with a ``type``: ``run`` (the settings, first), ``attempt``
(one HTTP request), ``fault`` (one injected fault and when it began and ended). Times
are Unix seconds (``time.time()``), the same clock as the events' timestamps, which
the checker compares them with.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

ACKNOWLEDGED = {
    "book": 201,
    "hold": 201,
    "confirm": 200,
    "release": 200,
    "cancel": 200,
    **dict.fromkeys(("payment", "card-intent", "webhook", "box-office", "statement", "refund-sent"), 200),
}


@dataclass(frozen=True)
class Attempt:
    """One HTTP request and its answer, or the error met instead of one.

    ``request`` names the logical request the attempt belongs to: a retry, or the same
    keyed request sent to another server at the same time, is another attempt of the
    same request (same body, same key)."""

    id: int
    client: int
    request: str
    server: str  # base URL
    op: str  # book, hold, confirm, release, cancel; or paying (scripts/verify/paying.py): payment, webhook, ...
    args: dict[str, Any]  # the body, and ``bookingId`` for confirm, release and cancel
    key: str | None  # the Idempotency-Key header
    sent: float
    answered: float  # when the answer, or the error, came
    status: int | None = None  # None: no answer (see ``error``)
    body: Any = None
    error: str | None = None

    @property
    def acknowledged(self) -> bool:
        """The service said it did it."""
        return self.status == ACKNOWLEDGED[self.op]

    @property
    def indeterminate(self) -> bool:
        """No definitive answer: it may or may not have happened (timeout, cut off, 5xx)."""
        return self.status is None or self.status >= 500

    @property
    def code(self) -> str | None:
        """The error code of an error answer."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"].get("code")
        return None

    @property
    def outcome(self) -> str:
        """What came of it, in a word: the status and code, or the error's type."""
        if self.status is None:
            return str(self.error)
        return f"{self.status} {self.code}" if self.code else str(self.status)

    @property
    def booking_id(self) -> str | None:
        """The booking it answered about, or asked about."""
        if isinstance(self.body, dict) and self.acknowledged:
            return self.body.get("bookingId") or self.body.get("holdId")
        return self.args.get("bookingId")


@dataclass(frozen=True)
class Fault:
    """One injected fault: what, on what, and from when until the service had it back."""

    kind: str
    target: str
    began: float
    ended: float


@dataclass
class History:
    run: dict[str, Any] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)


class HistoryLog:
    """Appends records to a JSON-lines file as they happen (one lock for all client
    threads, a flush per line, so a run that dies still leaves its history) and keeps
    them in memory for the checker."""

    def __init__(self, path: Path, run: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.history = History(run)
        self._lock = threading.Lock()
        self._next_id = 0
        self._file: IO[str] = open(path, "w")
        self._write({"type": "run", **run})

    def next_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    def add_attempt(self, attempt: Attempt) -> None:
        with self._lock:
            self.history.attempts.append(attempt)
            self._write({"type": "attempt", **asdict(attempt)})

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.history.faults.append(fault)
            self._write({"type": "fault", **asdict(fault)})

    def _write(self, record: dict[str, Any]) -> None:
        if self._file.closed:  # a client thread that outlived an interrupted run
            return
        self._file.write(json.dumps(record, default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def load(path: Path) -> History:
    """Read a history file back (to check or inspect it again)."""
    history = History()
    with open(path) as lines:
        for line in lines:
            record = json.loads(line)
            kind = record.pop("type")
            if kind == "run":
                history.run = record
            elif kind == "attempt":
                history.attempts.append(Attempt(**record))
            else:
                history.faults.append(Fault(**record))
    return history
