"""gunicorn settings, each read from the environment (docs/configuration.md).

``ticketledger serve`` runs gunicorn with ``-c python:web.server.gunicorn_settings``, so an
installed wheel serves with them from any folder; the checkout's ``gunicorn.conf.py``
(``gunicorn -c gunicorn.conf.py``, the Docker image) imports them. The gunicorn master
loads them (and the worker class) before it forks, and the worker imports them before
gevent patches it: had they loaded the app's modules, psycopg would have chosen its
blocking wait function by then. So they take from the app only what imports nothing more:
``web.create_app`` (whose module is the bare ``web`` package) and what the app and the
server agree on (``web/http/server_contract.py``).

No ``preload_app``: every worker builds its own ledger and connection pool after the
fork. Workers starting together are safe: table creation is serialised by an advisory
lock (``application/persistence/storage.py``) and demo tiers by the tier's version check.

Both stores run the ``gevent`` worker (``web/server/gunicorn_worker.py``: gunicorn's, whose
own error answers are JSON). A connection costs a greenlet, not a thread, so slow
clients and open event streams cannot use up the server, and a request's headers must
arrive within ``keepalive`` seconds (gunicorn's gevent worker reads them under that
timeout); its body has ``REQUEST_BODY_TIMEOUT`` (``web/http/request_body.py``). How the
defaults were chosen, measured: docs/performance.md ("How the server settings were
chosen") and docs/security.md.
- PostgreSQL: 2 workers. Many concurrent requests per process are what fill a group
  commit; greenlets switch between the requests that queue for it cheaply and without
  contending for the GIL, and psycopg waits cooperatively under gevent. Processes take
  turns on a tier (``application/booking/turns.py``), so more workers do not conflict,
  but on few cores they only add processes to schedule.
- SQLite: 1 worker (one writer). A thread per connection (``gthread``) lets slow clients
  and open event streams use up the server; a greenlet does not. sqlite3 calls do not
  yield to gevent, so each commit's fsync pauses the worker: fewer bookings a second
  than ``gthread`` under load, the price of not being stopped by slow clients.
"""

import os
import resource
import shutil
import tempfile

from web import create_app

on_sqlite = os.environ.get("PERSISTENCE_MODULE", "eventsourcing.sqlite") == "eventsourcing.sqlite"
bind = os.environ.get("BIND", "127.0.0.1:8000")
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "web.server.gunicorn_worker.JsonErrorGeventWorker")
workers = int(os.environ.get("GUNICORN_WORKERS", "1" if on_sqlite else "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "32"))  # gthread only
# Connections one gevent worker holds at once; beyond them new ones wait in the listen
# backlog. Bounded by the open-file limit, which is raised to its hard limit below.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "10000"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# Under gevent: seconds a request's headers may take to arrive (and a kept-alive
# connection may stay idle).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "2"))
graceful_timeout = 10
# The app logs one JSON line per request itself (web/http/logs.py); set "-" for gunicorn's too.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
# The app, named as gunicorn takes it ("module:call()"); importing ``web`` loads nothing more.
wsgi_app = f"{create_app.__module__}:{create_app.__name__}()"

# A folder made here for the workers' metrics, removed when the server exits.
made_metrics_folder: list[str] = []


def on_starting(server):
    """Let the workers hold as many connections as the system allows, give them a fresh
    folder to count Prometheus metrics in (web/http/metrics.py), and tell the app how many
    processes serve it (``WEB_CONCURRENCY``: per-worker rate-limit counts would not do)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
    else:
        folder = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ledger-metrics-")
        made_metrics_folder.append(folder)
    os.environ["WEB_CONCURRENCY"] = str(server.cfg.workers)


def on_exit(server):
    """Remove the metrics folder made at start (one given in the environment stays)."""
    for folder in made_metrics_folder:
        shutil.rmtree(folder, ignore_errors=True)


def child_exit(server, worker):
    """A dead worker's live gauges no longer count."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    """Close the ledger's connection pool while the worker can still run it down
    cleanly (left to the garbage collector, it fails noisily under gevent)."""
    app = getattr(worker, "wsgi", None)
    while hasattr(app, "app") and not hasattr(app, "extensions"):  # the gevent worker wraps the Flask app
        app = app.app  # (web/server/loop_shares.py, then gunicorn_worker.py's direct writes)
    services = getattr(app, "extensions", {}).get("services")
    if services is not None:
        services.close()
