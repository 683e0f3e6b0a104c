"""``ticketledger``: one command for the processes and tools that run beside the web app.

The subcommands are the modules below; each fills the subparser it is given
(``add_arguments``, if it has options) and runs the parsed arguments (``run``), so an
option is defined in one place. A subcommand's help is its module's docstring: the first
line is the summary in ``ticketledger --help``, the rest (with examples) its own
``--help``. Options a subcommand does not define are refused, unless it asks for them
with a ``passthrough`` default (serve hands them to gunicorn).
"""

import argparse
import importlib
import sys
from types import ModuleType

import projections.__main__ as projections
from scripts.commands import audit, edge_publish, feed, rebuild, serve, status, webhooks


def from_checkout(name: str, summary: str) -> ModuleType:
    """A command that needs the checkout's test extras (the benchmark's clients, the checker's):
    the module if it imports, else a stand-in that says what is missing."""
    try:
        return importlib.import_module(name)
    except ImportError as missing:
        stand_in = ModuleType(
            name, f"{summary}\n\nNot available here ({missing}): run it from a checkout, after `make install`."
        )
        stand_in.run = lambda args: print(stand_in.__doc__, file=sys.stderr) or 2  # type: ignore[attr-defined]
        return stand_in


bench = from_checkout("scripts.bench.run", "Benchmark a sale against the row-locking baseline.")
verify = from_checkout("scripts.verify.run", "Check every answer against the event store, under faults.")

COMMANDS: dict[str, ModuleType] = {
    "serve": serve,
    "projections": projections,
    "rebuild": rebuild,
    "audit": audit,
    "status": status,
    "webhooks": webhooks,
    "feed": feed,
    "edge-publish": edge_publish,
    "bench": bench,
    "verify": verify,
}

EPILOG = """\
examples:
  ticketledger serve                  the API on http://127.0.0.1:8000
  ticketledger projections            keep the read tables up to date (needed on PostgreSQL)
  ticketledger audit --all            reconcile every tier with its events
  ticketledger rebuild --verify       compare a fresh rebuild with the live read tables
  ticketledger status --json          how far the read tables lag behind
  ticketledger verify --seconds 30    check every answer against the event store, under faults
  ticketledger webhooks list          registered webhook endpoints and their positions
  ticketledger feed --follow          print integration events as they happen
  ticketledger edge-publish           publish the tier list to the edges (EDGE_PUBLISH_URLS)

Every command reads its settings from environment variables, as the web app does
(docs/configuration.md). The store: PERSISTENCE_MODULE (eventsourcing.sqlite by
default, or eventsourcing.postgres), SQLITE_DBNAME (default var/ledger.sqlite3),
POSTGRES_HOST, POSTGRES_PORT, POSTGRES_DBNAME, POSTGRES_USER, POSTGRES_PASSWORD,
POSTGRES_SCHEMA. serve: BIND, GUNICORN_*. projections: PROJECTION_POLL_INTERVAL.

Run 'ticketledger COMMAND --help' for a command's options.
"""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' line breaks, and starts the commands' help in a column wide
    enough for "projections" (argparse measures subcommand names two columns short, which
    would push that one's help onto a line of its own)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog)
        self._action_max_length = 4 + max(map(len, COMMANDS))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ticketledger",
        formatter_class=HelpFormatter,
        epilog=EPILOG,
        description="The event-sourced ticket booking ledger: its server, projection process and tools.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        text = module.__doc__.replace("``", "")  # reStructuredText quotes, for the code's readers
        summary = text.splitlines()[0].rstrip(".")
        sub = commands.add_parser(
            name,
            help=summary[0].lower() + summary[1:],
            description=text,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if hasattr(module, "add_arguments"):
            module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if "passthrough" in args:
        args.passthrough = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args.run(args) or 0
