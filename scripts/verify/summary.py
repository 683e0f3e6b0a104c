"""The summary of a verification run, as plain-text tables: what the clients sent and
got, the faults, the tiers as recorded, and the anomalies by kind with examples."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from scripts.verify.alerts import EXPECTED, WITHIN, raised
from scripts.verify.anomaly import Anomaly
from scripts.verify.checker import KINDS
from scripts.verify.history import History
from scripts.verify.store import Store
from scripts.verify.windows import PROMPT, windows

EXAMPLES = 3  # anomalies shown per kind


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    cells = [list(map(str, header)), *[list(map(str, row)) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]


def requests_table(history: History) -> list[str]:
    by_op: dict[str, Counter[str]] = defaultdict(Counter)
    requests: dict[str, set[str]] = defaultdict(set)
    for a in history.attempts:
        requests[a.op].add(a.request)
        by_op[a.op]["attempts"] += 1
        by_op[a.op]["acknowledged" if a.acknowledged else "indeterminate" if a.indeterminate else "refused"] += 1
        by_op[a.op]["keyed"] += a.key is not None
    rows = [
        (op, len(requests[op]), c["attempts"], c["keyed"], c["acknowledged"], c["refused"], c["indeterminate"])
        for op, c in by_op.items()
    ]
    return table(("op", "requests", "attempts", "keyed", "acknowledged", "refused", "indeterminate"), rows)


def outcomes_line(history: History) -> str:
    outcomes = Counter(a.outcome.split(":")[0] for a in history.attempts)
    return "answers: " + ", ".join(f"{what} × {n:,}" for what, n in outcomes.most_common())


def prompt_line(history: History) -> str:
    """How many attempts were answered within ``PROMPT`` seconds, in all and while a fault lasted."""

    def share(attempts: list) -> str:
        prompt = sum(a.status is not None and a.answered - a.sent <= PROMPT for a in attempts)
        return f"{prompt:,} of {len(attempts):,} ({100 * prompt / len(attempts):.2f} %)" if attempts else "none sent"

    during = [a for a in history.attempts if any(f.began <= a.sent <= f.ended for f in history.faults)]
    return f"answered within {PROMPT:g} s: {share(history.attempts)}; during faults: {share(during)}"


def faults_table(history: History) -> list[str]:
    if not history.faults:
        return ["faults: none"]
    found = windows(history)
    rows = [
        (
            w.fault.kind,
            f"{w.fault.began - history.run['began']:.1f}",
            f"{w.fault.ended - w.fault.began:.1f}",
            seconds(w.unavailable),
            seconds(w.first_booking),
            f"{w.prompt}/{w.requests}",
            w.fault.target,
        )
        for w in found
    ]
    header = ("fault", "at s", "until recovered s", "failure to 201 s", "start to 201 s", f"answered ≤ {PROMPT:g} s")
    prompt, requests = sum(w.prompt for w in found), sum(w.requests for w in found)
    share = f"{100 * prompt / requests:.2f} %" if requests else "none sent"
    return [*table((*header, "target"), rows), f"during faults, answered within {PROMPT:g} s: {share}"]


def alerts_table(history: History, record: list[dict[str, Any]]) -> list[str]:
    """Each fault's alerts at the receiver: which, when, resolved when; and whether the one
    naming its cause came within ``WITHIN`` seconds."""
    rows = []
    for fault in history.faults:
        found = raised(fault, record)
        expected = EXPECTED.get(fault.kind)
        came = expected is None or any(r.alert == expected for r in found)
        alerts = ", ".join(f"{r.alert} {r.instance} +{r.after:.0f} s ({resolution(r.resolved)})" for r in found)
        rows.append(
            (
                fault.kind,
                f"{fault.began - history.run['began']:.1f}",
                expected or "-",
                "yes" if came else "NO",
                alerts or "none",
            )
        )
    return table(("fault", "at s", "its alert", f"within {WITHIN:g} s", "alerts at the receiver"), rows)


def resolution(resolved: float | None) -> str:
    return "not resolved" if resolved is None else f"resolved +{resolved:.0f} s"


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def store_table(store: Store) -> list[str]:
    bookings = Counter(b.tier for b in store.bookings.values())
    rows = [
        (
            code,
            steps[-1].version,
            steps[-1].capacity,
            steps[-1].sold,
            steps[-1].held,
            steps[-1].available,
            bookings[code],
        )
        for code, steps in store.tiers.items()
    ]
    return table(("tier", "version", "capacity", "sold", "held", "available", "bookings"), rows)


def anomalies_table(anomalies: list[Anomaly]) -> list[str]:
    if not anomalies:
        return ["anomalies: none"]
    by_kind: dict[str, list[Anomaly]] = defaultdict(list)
    for anomaly in anomalies:
        by_kind[anomaly.kind].append(anomaly)
    lines = table(("anomaly", "count", "meaning"), [(k, len(found), KINDS[k]) for k, found in by_kind.items()])
    for kind, found in by_kind.items():
        lines += [f"  {kind}: {anomaly.message}" for anomaly in found[:EXAMPLES]]
    return lines


def summary(
    history: History, store: Store, anomalies: list[Anomaly], alerts: list[dict[str, Any]] | None = None
) -> str:
    """``alerts``: the watch's receiver's record, on the Patroni nodes (``verify --cluster``)."""
    run = history.run
    acknowledged = sum(a.acknowledged for a in history.attempts if a.op in ("book", "hold"))
    lost = sum(anomaly.kind == "lost-receipt" for anomaly in anomalies)
    lines = [
        f"ticketledger verify: {run['seconds']} s, {run['servers']} servers, {run['clients']} clients, "
        f"faults {', '.join(run['faults']) or 'none'}, seed {run['seed']}",
        f"history: {run['history']}",
        "",
        *requests_table(history),
        outcomes_line(history),
        prompt_line(history),
        "",
        *faults_table(history),
        "",
        *([*alerts_table(history, alerts), ""] if alerts else []),
        *store_table(store),
        "",
        f"bookings and holds answered 201: {acknowledged:,}; not in the event store: {lost:,}",
        *anomalies_table(anomalies),
    ]
    return "\n".join(lines)
