"""Structured JSON logs: one line per request (method, path, status, duration, request
id) and one per booking or cancellation. The request id comes from ``X-Request-ID``
(when it is sane) or is made here, and is echoed back on the response."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
log = logging.getLogger("ledger")


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object, with whatever was passed in ``extra``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": self.formatTime(record), "level": record.levelname,
                                "logger": record.name, "message": record.getMessage()}
        line.update({k: v for k, v in vars(record).items() if k not in STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure() -> None:
    """JSON lines on stderr for the app's loggers (idempotent: one handler only)."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(logging.INFO)


def install(app: Flask) -> None:
    configure()

    @app.before_request
    def identify() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        g.log_started = time.perf_counter()

    @app.after_request
    def access_line(response: Response) -> Response:
        request_id = g.get("request_id", "")
        response.headers["X-Request-ID"] = request_id
        duration = round((time.perf_counter() - g.get("log_started", time.perf_counter())) * 1000, 2)
        log.info("request", extra={"request_id": request_id, "method": request.method, "path": request.path,
                                   "status": response.status_code, "duration_ms": duration})
        return response


def event(message: str, **fields: Any) -> None:
    """A business event (booked, cancelled) with the current request's id."""
    log.info(message, extra={"request_id": g.get("request_id"), **fields})
