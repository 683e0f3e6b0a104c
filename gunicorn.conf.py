"""gunicorn settings, each read from the environment (README: Configuration).

No ``preload_app``: every worker builds its own ledger and connection pool after the
fork. Workers starting together are safe: table creation is serialised by an advisory
lock (``application/storage.py``) and demo tiers by the tier's version check.

Chosen by measurement on 2 cores, one hot tier, 64 connections (README, Performance):
- PostgreSQL: 2 ``gevent`` workers. Greenlets make cheap, GIL-free switches between
  the requests that queue for a group commit, and psycopg waits cooperatively under
  gevent. 2 gevent workers: 2,035 bookings/s, p95 52 ms; 1: 1,662/s; 3 and 4 workers
  collapse (every extra process on the hot tier adds version conflicts). The best
  gthread setting (2 x 32 threads) gave 1,414/s, p95 75 ms.
- SQLite: 1 ``gthread`` worker: one writer at a time, and sqlite3 calls cannot yield
  to gevent.
"""

import os
import shutil
import tempfile

on_sqlite = os.environ.get("PERSISTENCE_MODULE", "eventsourcing.sqlite") == "eventsourcing.sqlite"
bind = os.environ.get("BIND", "127.0.0.1:8000")
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread" if on_sqlite else "gevent")
workers = int(os.environ.get("GUNICORN_WORKERS", "1" if on_sqlite else "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "32"))  # gthread only
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))  # gevent only
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
# The app logs one JSON line per request itself (web/logs.py); set "-" for gunicorn's too.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
wsgi_app = "web:create_app()"


def on_starting(server):
    """Give the workers a fresh folder to count Prometheus metrics in (web/metrics.py)."""
    folder = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="ledger-metrics-"))
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)


def child_exit(server, worker):
    """A dead worker's live gauges no longer count."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    """Close the ledger's connection pool while the worker can still run it down
    cleanly (left to the garbage collector, it fails noisily under gevent)."""
    services = getattr(getattr(worker, "wsgi", None), "extensions", {}).get("ledger")
    if services is not None:
        services.close()
