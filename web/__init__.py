"""The HTTP API and its web pages: ``create_app`` builds the Flask app (``web/app.py``), its
ledger and its read tables.

Importing ``web`` imports nothing more: the server runtime lives in it too (``web/server/``),
and gunicorn's master and its gevent worker import that before gevent patches the process,
when the app's modules (psycopg, which picks its way of waiting on import; ssl; threads) must
not be loaded yet. So the app's modules are imported when an app is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; ``config`` overrides settings read from the environment."""
    from web.app import build_app

    return build_app(config)
