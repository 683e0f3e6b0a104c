"""Serve the HTTP API under gunicorn.

    ticketledger serve                     # http://127.0.0.1:8000, SQLite in var/ by default
    ticketledger serve --workers 4 --reload
    ticketledger serve -c other.conf.py    # gunicorn's last -c wins
    ticketledger serve -- --help           # gunicorn's own options

Options other than -h go to gunicorn as they are, after ``-c gunicorn.conf.py``, so they
win over the settings the config reads from the environment (BIND, GUNICORN_WORKERS,
GUNICORN_WORKER_CLASS, GUNICORN_THREADS, ...; README: Configuration). The config is
found beside this package, not in the current folder, so serve works from anywhere in
a checkout. gunicorn replaces this process, so signals reach it directly.
"""

import argparse
import os
import sys
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = "%(prog)s [-h] [GUNICORN OPTION ...]"
    parser.set_defaults(passthrough=[])


def run(args: argparse.Namespace) -> None:
    extra = args.passthrough[1:] if args.passthrough[:1] == ["--"] else args.passthrough
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), *extra])
