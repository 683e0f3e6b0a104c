"""psycopg's waits on gevent's loop (``web/server/gevent_psycopg.py``), as the server's gevent
workers use them: in a process of its own, patched by gevent as a worker is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import postgres_settings

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
# One greenlet sleeps in PostgreSQL while others go on; one sends a body larger than the
# socket takes at once (waits for writing); one asks for a large answer (waits for reading).
SCRIPT = """
from gevent import monkey; monkey.patch_all()
import json, sys, time
import gevent
from web.server import gevent_psycopg; gevent_psycopg.install()
import psycopg, psycopg.waiting
log = []
def connect():
    return psycopg.connect(**json.loads(sys.argv[1]), autocommit=True)
def sleeper():
    with connect() as conn:
        conn.execute("SELECT pg_sleep(0.3)")
    log.append("slept")
def ticker():
    for _ in range(3):
        gevent.sleep(0.02)
        log.append("tick")
def big():
    with connect() as conn:
        sent = conn.execute("SELECT length(%b)", [b"x" * 20_000_000]).fetchone()[0]
        back = len(conn.execute("SELECT repeat('y', 20000000)").fetchone()[0])
    log.append(("big", sent, back))
gevent.joinall([gevent.spawn(sleeper), gevent.spawn(ticker), gevent.spawn(big)], raise_error=True)
print(json.dumps({"log": log, "wait": psycopg.waiting.wait.__module__}))
"""


def test_waits_let_other_greenlets_run_and_carry_large_queries_both_ways():
    settings = postgres_settings()
    conninfo = {
        "host": settings["POSTGRES_HOST"],
        "port": settings["POSTGRES_PORT"],
        "dbname": settings["POSTGRES_DBNAME"],
        "user": settings["POSTGRES_USER"],
        "password": settings["POSTGRES_PASSWORD"],
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(conninfo)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    log = result["log"]
    assert log.index("slept") > max(i for i, entry in enumerate(log) if entry == "tick")  # ticks ran while it slept
    assert ["big", 20_000_000, 20_000_000] in log
    assert result["wait"] == "web.server.gevent_psycopg"
