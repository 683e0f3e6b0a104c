"""A credit on the organizer's bank account, read from a statement, and what became of it.

One aggregate per credit, its id derived from the account and the bank's own reference of
the entry, so importing a statement again finds every credit recorded already and changes
nothing. A credit is recorded with its match (``domain.payments.Match``): one that paid a
booking is saved in the same recording as that payment; one left for a person (short,
over, a duplicate, another currency, no known reference) waits for them with its reason.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.payments import LEFT_FOR_A_PERSON, Match


def bank_credit_id(account: str, entry: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"bank-credit:{account}:{entry}")


class BankCredit(Aggregate):
    """Money the bank says it received, with the reference the payer gave, and its match."""

    class Recorded(Aggregate.Created):
        account: str
        entry: str  # the bank's reference of the entry (or the statement's id and its place)
        amount: int  # minor units
        currency: str
        reference: str | None  # the creditor reference the payer gave, as given
        booked_on: str | None  # ISO date
        match: str  # a ``Match``
        payment_id: UUID | None  # the payment it names, if any

    @classmethod
    def record(
        cls, account: str, entry: str, amount: int, currency: str, reference: str | None, booked_on: str | None,
        match: Match, payment_id: UUID | None,
    ) -> BankCredit:  # fmt: skip
        return cls._create(
            cls.Recorded, id=bank_credit_id(account, entry), account=account, entry=entry, amount=amount,
            currency=currency, reference=reference, booked_on=booked_on, match=match.value, payment_id=payment_id,
        )  # fmt: skip

    @event(Recorded)
    def __init__(
        self, account: str, entry: str, amount: int, currency: str, reference: str | None, booked_on: str | None,
        match: str, payment_id: UUID | None,
    ) -> None:  # fmt: skip
        self.account = account
        self.entry = entry
        self.amount = amount
        self.currency = currency
        self.reference = reference
        self.booked_on = booked_on
        self.match = Match(match)
        self.payment_id = payment_id

    @property
    def waits_for_a_person(self) -> bool:
        return self.match in LEFT_FOR_A_PERSON
