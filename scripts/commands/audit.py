"""Audit a tier's history, or every tier, from the events.

    ticketledger audit VIP                      # every event, with sold/held/available after it
    ticketledger audit VIP --at-version 120     # the tier as it was then
    ticketledger audit VIP --at-time 2026-11-24T08:00:00Z
    ticketledger audit --all                    # one line per tier and a total
    ticketledger audit --all --json             # JSON Lines instead of a table
    ticketledger audit --actors                 # staff-made events that name no actor

Checks the invariants over the whole history (versions contiguous, available never
negative, each booking booked and cancelled at most once, each hold ended at most once,
sold == confirmed bookings, each price change from the price the tier had) and
cross-checks the read tables. Exits 1 and names the first bad event if anything disagrees.
"""

import argparse
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime

from application import BookingLedger
from application.audit.staff_activity import missing_actors
from application.audit.tier_audit import TierAudit
from projections import open_view


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def plain(value) -> str:
    return "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)


def emit(record: dict, as_json: bool, columns: list[tuple[str, int]]) -> None:
    if as_json:
        print(json.dumps(record, default=plain))
    else:
        print("  ".join(f"{plain(record[c]):<{w}}" for c, w in columns))


LINE = [
    ("version", 8),
    ("event", 16),
    ("at", 33),
    ("booking_id", 37),
    ("user_id", 14),
    ("available_change", 6),
    ("capacity", 9),
    ("sold", 9),
    ("held", 9),
    ("available", 9),
]
SUMMARY = [("tier", 12), ("events", 9), ("capacity", 10), ("sold", 10), ("held", 10), ("available", 10), ("ok", 5)]
FIGURES = ("capacity", "sold", "held", "available")


def audit_one(audit: TierAudit, view, code: str, as_json: bool) -> int:
    lines, problems = audit.verify(code, view)
    if not as_json:
        print("  ".join(f"{name:<{width}}" for name, width in LINE))
    for line in lines:
        emit(asdict(line), as_json, LINE)
    return report(problems, as_json)


def report(problems, as_json: bool) -> int:
    for problem in problems:
        where = f"event {problem.version}" if problem.version is not None else "read tables"
        if as_json:
            print(json.dumps({"problem": problem.message, "version": problem.version}))
        else:
            print(f"PROBLEM at {where}: {problem.message}", file=sys.stderr)
    return 1 if problems else 0


def audit_all(audit: TierAudit, view, as_json: bool) -> int:
    if not as_json:
        print("  ".join(f"{name:<{width}}" for name, width in SUMMARY))
    total = {"tier": "TOTAL", "events": 0, **dict.fromkeys(FIGURES, 0), "ok": True}
    problems = []
    for code in audit.tier_codes():
        lines, found = audit.verify(code, view)
        last = lines[-1]
        row = {"tier": code, "events": len(lines), **{key: getattr(last, key) for key in FIGURES}, "ok": not found}
        for key in ("events", *FIGURES):
            total[key] += row[key]
        total["ok"] &= row["ok"]
        problems += found
        emit(row, as_json, SUMMARY)
    emit(total, as_json, SUMMARY)
    return report(problems, as_json)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("tier", nargs="?", metavar="TIER", help="tier code, e.g. VIP")
    which.add_argument("--all", action="store_true", help="reconcile every tier")
    which.add_argument("--actors", action="store_true", help="list staff-made events that name no actor")
    parser.add_argument("--at-version", type=int, metavar="N", help="show the tier as it was at this version")
    parser.add_argument(
        "--at-time", type=parse_time, metavar="TIME", help="show the tier as it was at this ISO-8601 time"
    )
    parser.add_argument("--json", action="store_true", help="JSON Lines instead of a table")


def audit_actors(ledger: BookingLedger, as_json: bool) -> int:
    """Every staff-made event without an actor, one a line; exit 1 if there is any."""
    missing = missing_actors(ledger)
    for topic, aggregate_id, version in missing:
        record = {"event": topic, "aggregate_id": aggregate_id, "version": version}
        emit(record, as_json, [("event", 40), ("aggregate_id", 37), ("version", 8)])
    if not as_json:
        print(f"{len(missing)} staff-made event(s) name no actor")
    return 1 if missing else 0


def run(args: argparse.Namespace) -> int:
    with BookingLedger() as ledger:
        view = open_view(ledger)
        audit = TierAudit(ledger)
        if args.all:
            return audit_all(audit, view, args.json)
        if args.actors:
            return audit_actors(ledger, args.json)
        if args.at_version is not None or args.at_time is not None:
            tier = audit.tier_at(args.tier, args.at_version, args.at_time)
            state = {
                "tier": tier.code,
                "version": tier.version,
                "at": tier.modified_on,
                "price": tier.price,
                **{key: getattr(tier, key) for key in FIGURES},
            }
            print(
                json.dumps(state, default=plain)
                if args.json
                else "\n".join(f"{k:<10} {plain(v)}" for k, v in state.items())
            )
            return 0
        return audit_one(audit, view, args.tier, args.json)
