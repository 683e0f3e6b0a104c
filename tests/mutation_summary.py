"""The score of the last ``mutmut run`` per package, and the mutants that were not killed.

Run by ``make mutation`` after mutmut, from the project's folder: reads mutmut's results
in ``mutants/`` (one ``.meta`` file per source file) and names each status as mutmut does.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from mutmut.stats import status_by_exit_code

SHOWN = ["killed", "survived", "timeout", "no tests", "suspicious", "not checked"]


def statuses(mutants: Path) -> dict[str, dict[str, str]]:
    """Each mutant's status, by the package (top folder) of its source file."""
    found: dict[str, dict[str, str]] = defaultdict(dict)
    for meta in sorted(mutants.rglob("*.py.meta")):
        package = meta.relative_to(mutants).parts[0]
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            found[package][name] = status_by_exit_code[code]
    return found


def main() -> None:
    found = statuses(Path("mutants"))
    for package, by_name in sorted(found.items()):
        counts = Counter(by_name.values())
        total = sum(counts.values())
        score = 100 * counts["killed"] / total if total else 0
        rest = ", ".join(f"{status} {counts[status]}" for status in SHOWN[1:] if counts[status])
        print(f"{package}/: {counts['killed']}/{total} killed ({score:.1f} %){'; ' + rest if rest else ''}")
    for _package, by_name in sorted(found.items()):
        for name, status in sorted(by_name.items()):
            if status != "killed":
                print(f"    {status:<12} {name}")


if __name__ == "__main__":
    main()
