"""Serve the HTTP API under gunicorn.

    ticketledger serve                     # http://127.0.0.1:8000, SQLite in var/ by default
    ticketledger serve --workers 4 --reload
    ticketledger serve -c other.conf.py    # gunicorn's last -c wins
    ticketledger serve -- --help           # gunicorn's own options

Options other than -h go to gunicorn as they are, after the packaged settings
(``-c python:web.server.gunicorn_settings``), so they win over the settings read from the
environment (BIND, GUNICORN_WORKERS, GUNICORN_WORKER_CLASS, ...; docs/configuration.md).
The settings are a module of the package, so serve works from any folder, from a
checkout or from an installed wheel. gunicorn replaces this process, so signals reach
it directly.
"""

import argparse
import os
import sys

CONFIG = "python:web.server.gunicorn_settings"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = "%(prog)s [-h] [GUNICORN OPTION ...]"
    parser.set_defaults(passthrough=[])


def run(args: argparse.Namespace) -> None:
    extra = args.passthrough[1:] if args.passthrough[:1] == ["--"] else args.passthrough
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "-c", CONFIG, *extra])
