"""The server runtime (``web/server/``) lives beside the app but loads none of it: gunicorn's
master reads its settings and worker class before forking, and the worker imports them before
gevent patches the process, when psycopg (which picks its way of waiting on import), Flask
and the application must not be loaded yet."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
THE_APP = ("psycopg", "flask", "eventsourcing", "application", "projections", "domain", "web.app", "web.api")
SCRIPT = f"""
import json, sys
import web.server.gunicorn_settings, web.server.gunicorn_worker, web.server.loop_shares
loaded = sorted(m for m in sys.modules if any(m == name or m.startswith(name + ".") for name in {THE_APP!r}))
print(json.dumps({{"loaded": loaded, "app": web.server.gunicorn_settings.wsgi_app}}))
"""


def test_the_settings_and_the_worker_load_none_of_the_app_and_name_it_by_its_module():
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result == {"loaded": [], "app": "web:create_app()"}
