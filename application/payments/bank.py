"""Importing a bank statement: each credit matched to the payment its reference names.

Each credit is decided by ``match_payment`` and recorded as a ``BankCredit`` in the same
recording as what it did to the payment (received, and the hold confirmed; or received and
refunded, if late), so a credit is never counted without its effect nor its effect without
it. A credit that is not exactly what a payment in time expects is recorded for a person with
its reason, and the payment is left as it was. A credit recorded already (the same statement
imported again, or a later statement repeating it) is skipped: importing twice changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from eventsourcing.domain import Aggregate

from application.payments.desk import PaymentDesk
from application.payments.statements import StatementCredit, read_statement
from domain.bank_credits import BankCredit, bank_credit_id
from domain.payments import Incoming, Match, Payment, payment_id


@dataclass(frozen=True)
class ImportedCredit:
    credit: StatementCredit
    match: Match | None  # None: recorded already, skipped


@dataclass
class ImportSummary:
    credits: list[ImportedCredit] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """How many credits went which way; ``skipped``: recorded by an earlier import."""
        counted = Counter(line.match.value if line.match else "skipped" for line in self.credits)
        return dict(sorted(counted.items()))


class BankStatementImport:
    """Reads a camt.053 statement and has the desk apply each credit."""

    def __init__(self, desk: PaymentDesk) -> None:
        self.desk = desk

    def import_statement(self, document: bytes) -> ImportSummary:
        summary = ImportSummary()
        for credit in read_statement(document):
            summary.credits.append(ImportedCredit(credit, self.apply(credit)))
        return summary

    def apply(self, credit: StatementCredit) -> Match | None:
        """Record one credit and its effect; None if it was recorded already."""
        credit_id = bank_credit_id(credit.account, credit.entry)
        if self.desk.aggregates.exists(credit_id):
            return None
        recorded: list[Match] = []

        def beside(match: Match, payment: Payment | None) -> Sequence[Aggregate]:
            recorded[:] = []
            if self.desk.aggregates.exists(credit_id):  # another import recorded it meanwhile
                return ()
            recorded.append(match)
            return [
                BankCredit.record(
                    credit.account, credit.entry, credit.amount, credit.currency, credit.given, credit.booked_on,
                    match, payment.id if payment else None,
                )
            ]  # fmt: skip

        paying = payment_id(credit.reference) if credit.reference else None
        provider_id = f"bank:{credit.account}:{credit.entry}"
        self.desk.receive(paying, Incoming(credit.amount, credit.currency, "bank_transfer", provider_id), beside)
        return recorded[0] if recorded else None
