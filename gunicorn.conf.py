"""gunicorn settings, each read from the environment (README: Configuration).

No ``preload_app``: every worker builds its own ledger and connection pool after the
fork. Workers starting together are safe: table creation is serialised by an advisory
lock (``application/storage.py``) and demo tiers by the tier's version check.
"""

import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
# Measured on 2 cores, one hot tier, 64 connections (README, "Performance"):
# PostgreSQL 2 workers x 32 threads beat 1x32, 2x16, 2x64, 3x16 and 4x4. Threads are
# what lets bookings of one tier share a group commit, so there are many of them.
# SQLite has one writer at a time, so one process serves it.
on_sqlite = os.environ.get("PERSISTENCE_MODULE", "eventsourcing.sqlite") == "eventsourcing.sqlite"
workers = int(os.environ.get("GUNICORN_WORKERS", "1" if on_sqlite else "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None  # empty: no access log
wsgi_app = "web:create_app()"

