"""camt.053.001.02 statements for the tests and ``ticketledger verify --payments``, valid to
the message's schema as a bank's are (the reader refuses anything less): a statement of an
account and a credit entry per payment."""

from __future__ import annotations

from xml.sax.saxutils import escape

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
TRANSFER = "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"


def statement(account: str, entries: list[str], statement_id: str = "S1") -> str:
    """A document of one statement of ``account`` holding ``entries`` (from ``credit``)."""
    opening = (
        "<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy='EUR'>0.00</Amt>"
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-03-02</Dt></Dt></Bal>"
    )
    return (
        f"<Document xmlns='{NAMESPACE}'><BkToCstmrStmt>"
        f"<GrpHdr><MsgId>{statement_id}</MsgId><CreDtTm>2026-03-02T22:00:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{statement_id}</Id><CreDtTm>2026-03-02T22:00:00</CreDtTm>"
        f"<Acct><Id><IBAN>{account}</IBAN></Id></Acct>{opening}{''.join(entries)}</Stmt>"
        "</BkToCstmrStmt></Document>"
    )


def credit(
    entry: str, amount: str, currency: str = "EUR", reference: str | None = None, text: str | None = None
) -> str:
    """A booked credit keyed ``entry`` by the bank: its structured creditor ``reference``, or
    the free ``text`` the payer wrote, or neither."""
    if reference is not None:
        remittance = f"<RmtInf><Strd><CdtrRefInf><Ref>{escape(reference)}</Ref></CdtrRefInf></Strd></RmtInf>"
    elif text is not None:
        remittance = f"<RmtInf><Ustrd>{escape(text)}</Ustrd></RmtInf>"
    else:
        remittance = ""
    details = f"<NtryDtls><TxDtls>{remittance}</TxDtls></NtryDtls>" if remittance else ""
    return (
        f"<Ntry><Amt Ccy='{currency}'>{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>"
        f"<BookgDt><Dt>2026-03-02</Dt></BookgDt><AcctSvcrRef>{escape(entry)}</AcctSvcrRef>{TRANSFER}{details}</Ntry>"
    )
