"""``ticketledger``, run as the installed console script (tests/cli.py)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from application import BookingLedger
from projections import Projector, open_view
from scripts.commands.cli import COMMANDS
from scripts.harness import camt053
from tests.cli import ROOT, ticketledger

EXPECTED = [
    "serve",
    "projections",
    "rebuild",
    "audit",
    "status",
    "webhooks",
    "feed",
    "payments",
    "edge-publish",
    "bench",
    "verify",
]


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "ledger.sqlite3")}


def test_help_lists_every_command_with_its_summary_and_names_the_settings():
    result = ticketledger("--help")
    assert result.returncode == 0, result.stderr
    assert list(COMMANDS) == EXPECTED
    listed = re.findall(r"^    ([\w-]+) +\S", result.stdout, re.MULTILINE)
    assert listed == EXPECTED  # each on one line with its summary
    assert "examples:" in result.stdout and "PERSISTENCE_MODULE" in result.stdout


def test_the_operations_page_shows_the_help_as_it_is():
    page = (ROOT / "docs" / "operations.md").read_text()
    shown = page.split("$ ticketledger --help\n", 1)[1].split("```", 1)[0]
    assert shown == ticketledger("--help", env={"COLUMNS": "80"}).stdout


@pytest.mark.parametrize("command", EXPECTED)
def test_every_command_has_its_own_help_with_examples(command):
    result = ticketledger(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: ticketledger {command} ")
    assert f"ticketledger {command}" in result.stdout.split("\n\n", 2)[2]  # the examples


def test_an_unknown_command_fails_with_the_usage():
    result = ticketledger("refund")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("usage: ticketledger ") and "invalid choice: 'refund'" in result.stderr


def test_an_unknown_option_fails_with_the_usage():
    result = ticketledger("status", "--verbose")
    assert result.returncode == 2 and "unrecognized arguments: --verbose" in result.stderr


def test_audit_needs_a_tier_or_all():
    result = ticketledger("audit")
    assert result.returncode == 2 and "one of the arguments TIER --all --actors is required" in result.stderr


def test_audit_all_reconciles_a_fresh_store(sqlite_env):
    with BookingLedger(env=sqlite_env) as ledger:
        ledger.create_tier("VIP", Decimal("100.00"), 4)
        ledger.book("alice", "VIP", 2)
        ledger.hold("bob", "VIP", 1)
        Projector(ledger, open_view(ledger)).catch_up()  # the audit cross-checks the read tables
    result = ticketledger("audit", "--all", "--json", env=sqlite_env)
    assert result.returncode == 0, result.stderr
    vip, total = map(json.loads, result.stdout.splitlines())
    assert vip == {"tier": "VIP", "events": 3, "capacity": 4, "sold": 2, "held": 1, "available": 1, "ok": True}
    assert total["tier"] == "TOTAL" and total["ok"] is True


def test_status_of_an_empty_store(sqlite_env):
    result = ticketledger("status", env=sqlite_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == ["position     0", "head         0", "lag_events   0", "lag_seconds  0.0"]


def test_serve_uses_the_project_config_from_any_folder_and_passes_options_to_gunicorn(sqlite_env, tmp_path):
    result = ticketledger(
        "serve", "--workers", "3", "--print-config", env={**sqlite_env, "DEMO_TIERS": ""}, cwd=tmp_path, timeout=60
    )
    assert result.returncode == 0, result.stderr
    settings = dict(re.findall(r"^(\w+) += (.*)$", result.stdout, re.MULTILINE))
    assert settings["config"] == "python:web.server.gunicorn_settings"
    assert (settings["wsgi_app"], settings["workers"]) == ("web:create_app()", "3")


def test_payments_import_matches_a_statement_once_and_books_balance(sqlite_env, tmp_path):
    statement = tmp_path / "statement.xml"
    statement.write_text(camt053.statement("DE1", [camt053.credit("E1", "1.00")]))
    first = ticketledger("payments", "import", str(statement), "--json", env=sqlite_env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["match"] == "unknown"
    again = ticketledger("payments", "import", str(statement), "--json", env=sqlite_env)
    assert json.loads(again.stdout)["match"] == "skipped"
    books = ticketledger("payments", "books", "--json", env=sqlite_env)
    assert books.returncode == 0, books.stderr
    assert json.loads(books.stdout)["waiting"]["reason"] == "unknown"
