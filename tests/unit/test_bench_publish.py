"""``make bench`` writes its tables into docs/performance.md, in place of the last run's."""

from __future__ import annotations

from scripts.bench.run import END, START, publish
from scripts.harness.processes import ROOT


def test_the_tables_replace_the_last_runs_between_the_markers_and_nothing_else(tmp_path):
    page = tmp_path / "performance.md"
    page.write_text(f"# Performance\n\nprose\n\n{START}\nold table\n{END}\n\nmore prose\n")
    publish("| new | table |", page)
    publish("| newer | table |", page)
    assert page.read_text() == f"# Performance\n\nprose\n\n{START}\n| newer | table |\n{END}\n\nmore prose\n"


def test_the_performance_page_has_the_markers_once():
    text = (ROOT / "docs" / "performance.md").read_text()
    assert text.count(START) == text.count(END) == 1 and text.index(START) < text.index(END)
