"""Import bank statements and check the books of the money.

    ticketledger payments import statement.xml     # a camt.053 statement: each credit matched
    ticketledger payments import a.xml b.xml --json  # one JSON line per credit
    ticketledger payments books                    # money per event, what waits for a person
    ticketledger payments books --json

import: each booked credit is matched by its creditor reference and amount; exact pays its
booking, anything else waits for a person with its reason; importing a statement again changes
nothing (the API takes statements up to MAX_CONTENT_LENGTH, this any size). books: exits 1
and names each problem if the books do not balance (docs/payments.md).
"""

import argparse
import json
import sys
from pathlib import Path

from application import BookingLedger
from application.audit.money_audit import MoneyAudit
from application.payments.bank import BankStatementImport
from application.payments.books import MoneyBooks
from application.payments.desk import PaymentDesk


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("import", "books"))
    parser.add_argument("statements", nargs="*", type=Path, help="camt.053 files (import)")
    parser.add_argument("--json", action="store_true", help="JSON Lines instead of a table")


def run(args: argparse.Namespace) -> int:
    if args.action == "import" and not args.statements:
        print("payments import: name at least one statement file", file=sys.stderr)
        return 2
    with BookingLedger() as ledger:
        if args.action == "import":
            return import_statements(ledger, args.statements, args.json)
        return books(ledger, args.json)


def import_statements(ledger: BookingLedger, files: list[Path], as_json: bool) -> int:
    bank = BankStatementImport(PaymentDesk(ledger))
    for path in files:
        summary = bank.import_statement(path.read_bytes())
        for line in summary.credits:
            match = line.match.value if line.match else "skipped"
            credit = line.credit
            if as_json:
                print(json.dumps({**credit.__dict__, "file": str(path), "match": match}))
            else:
                print(f"{path.name}  {credit.entry:<36}  {credit.amount:>12} {credit.currency}  {match}")
        if not as_json:
            print(f"{path.name}: {summary.counts}")
    return 0


def books(ledger: BookingLedger, as_json: bool) -> int:
    money = MoneyBooks(ledger)
    problems = MoneyAudit(ledger).verify()
    for event in money.money_per_event():
        figures = {**event.__dict__, "kept": event.kept, "refunds_owed": event.refunds_owed}
        print(json.dumps(figures) if as_json else "  ".join(f"{k}={v}" for k, v in figures.items()))
    for credit in money.waiting_for_a_person():
        waiting = {"entry": credit.entry, "amount": credit.amount, "currency": credit.currency}
        waiting |= {"reference": credit.reference, "reason": credit.match.value}
        print(json.dumps({"waiting": waiting}) if as_json else f"waits for a person: {waiting}")
    for problem in problems:
        print(json.dumps({"problem": problem}) if as_json else f"PROBLEM: {problem}")
    return 1 if problems else 0
