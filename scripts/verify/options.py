"""The command line of ``ticketledger verify`` (``scripts/verify/run.py``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from scripts.verify.faults import CLUSTER_KINDS, KINDS, WEB_KINDS

NUMBERS = [  # option, type, what it sets (the Settings field of the same name)
    ("--seconds", float, "how long the clients run"),
    ("--clients", int, "client threads"),
    ("--servers", int, "gunicorn servers on one store"),
    ("--fault-every", float, "seconds between faults"),
    ("--hold-seconds", float, "HOLD_SECONDS of the service"),
    ("--rtt-ms", float, "round trip added between the service and PostgreSQL, by a delaying proxy"),
]


def add_arguments(parser: argparse.ArgumentParser, defaults: Any) -> None:
    """``defaults``: a ``run.Settings``, whose fields the numbers set."""
    for option, kind, text in NUMBERS:
        default = getattr(defaults, option[2:].replace("-", "_"))
        parser.add_argument(option, type=kind, default=default, metavar="N", help=f"{text} (default {default:g})")
    parser.add_argument(
        "--faults",
        type=fault_kinds,
        default=defaults.faults,
        metavar="KINDS",
        help=f"comma-separated, injected in turn: {','.join(KINDS)} (the default), or none",
    )
    parser.add_argument("--seed", type=int, default=None, help="the clients' random choices (default: random)")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder for the run's files (default var/verify/<time>)",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="the store is the Patroni nodes behind HAProxy (make cluster's tools), with their faults too",
    )
    parser.add_argument(
        "--asynchronous", action="store_true", help="with --cluster: asynchronous replication (the guard's runs)"
    )
    parser.add_argument(
        "--payments",
        action="store_true",
        help="buyers of a paid event beside the clients, paying by card, bank and box office, the money delivered "
        "late, repeated and out of order; the money checked too (scripts/verify/paying.py, money.py)",
    )
    parser.add_argument(
        "--recheck",
        type=Path,
        default=None,
        metavar="DIR",
        help="run nothing: check the history in DIR against its store.json again",
    )


def fault_kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k for k in text.split(",") if k and k != "none")
    unknown = set(kinds) - set(KINDS) - set(WEB_KINDS) - set(CLUSTER_KINDS)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown fault {', '.join(sorted(unknown))}; choose from {', '.join(KINDS + WEB_KINDS + CLUSTER_KINDS)}"
        )
    return kinds
