"""The README and docs/ name files, modules and sections that exist: a move in the code that
leaves a page behind fails here, with the page, the line and the name."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A path in the project's own folders (perhaps a pattern: ``email_*.{txt,html}``), not the tail
# of a URL or of another path, nor a media type (``application/json``).
PATH = re.compile(
    r"(?<![\w./:-])(?!application/json)((?:domain|application|projections|web|scripts|tests|docs|\.ci)/[\w./*{},-]*)"
)
# A module, or a name in one, written with dots: ``domain.tiers:TicketTier.TicketsBooked``.
MODULE = re.compile(r"`((?:domain|application|projections|web|scripts)(?:\.\w+)+(?::[\w.]+)?)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A file named alone (``checkout.py``, ``prepare_tests.sh``): the page's context says where.
FILE_NAME = re.compile(r"(?<![\w./-])([\w-]+\.(?:py|sh|lua|js))\b")
FOLDERS = ("domain", "application", "projections", "web", "scripts", "tests", "docs", ".ci")


def cited(pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    """(page:line, text) of every match of ``pattern`` in the pages."""
    found = []
    for page in PAGES:
        for number, line in enumerate(page.read_text().splitlines(), 1):
            found += [(f"{page.relative_to(ROOT)}:{number}", m.group(1)) for m in pattern.finditer(line)]
    return found


def matching(pattern: str) -> list[Path]:
    """The files a cited path names: itself, or what its ``*`` and ``{a,b}`` match."""
    braces = re.search(r"\{([^}]*)\}", pattern)
    if braces:
        choices = [pattern.replace(braces.group(0), choice, 1) for choice in braces.group(1).split(",")]
        return [path for choice in choices for path in matching(choice)]
    return [path for path in ROOT.glob(pattern) if path.exists()] if pattern else []


@cache
def names_in_tree() -> set[str]:
    """The name of every file in the project's folders and at its top."""
    return {path.name for folder in FOLDERS for path in (ROOT / folder).rglob("*")} | {p.name for p in ROOT.iterdir()}


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def missing_module(name: str) -> str | None:
    """What of a dotted name is not in the tree: the module, or a name it does not define."""
    parts = name.replace(":", ".").split(".")
    for length in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:length])
        source = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        if source.exists():
            text = source.read_text()
            absent = [part for part in parts[length:] if not re.search(rf"\b{part}\b", text)]
            return f"{absent} in {source.relative_to(ROOT)}" if absent else None
    return "no such module"


def test_the_pages_are_found():
    assert ROOT / "README.md" in PAGES and ROOT / "docs" / "architecture.md" in PAGES


@pytest.mark.parametrize(("where", "path"), cited(PATH))
def test_every_path_a_page_cites_exists(where, path):
    assert matching(path.rstrip(".,;:")), f"{where} cites {path}, which is not in the tree"


@pytest.mark.parametrize(("where", "name"), cited(FILE_NAME))
def test_every_file_a_page_names_alone_is_somewhere_in_the_tree(where, name):
    assert name in names_in_tree(), f"{where} names {name}, which is nowhere in the tree"


@pytest.mark.parametrize(("where", "name"), cited(MODULE))
def test_every_module_a_page_cites_exists(where, name):
    assert missing_module(name) is None, f"{where} cites {name}: {missing_module(name)}"


@pytest.mark.parametrize(("where", "target"), [c for c in cited(LINK) if not re.match(r"[a-z]+:", c[1])])
def test_every_link_between_pages_leads_to_a_file_and_a_heading(where, target):
    page = ROOT / where.split(":")[0]
    file, _, anchor = target.partition("#")
    linked = (page.parent / file).resolve() if file else page
    assert linked.exists(), f"{where} links to {target}: no such file"
    if anchor and linked.suffix == ".md":
        assert anchor in anchors(linked), f"{where} links to {target}: no such heading"
