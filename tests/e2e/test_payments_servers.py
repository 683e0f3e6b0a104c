"""A paid sale from outside, through real servers (on PostgreSQL two on one store): buyers
race for a small paid tier; the box office's payment of each hold is sent twice, to either
server; a bank statement paying some holds is imported on both servers at once. Afterwards
the store itself is read: no seat oversold, no ticket without its money, no payment applied
twice, and the books balance."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest

from application import BookingLedger
from application.audit.money_audit import MoneyAudit
from application.payments.books import MoneyBooks
from scripts.harness import camt053
from scripts.harness.processes import call, gunicorn

TOKEN = "money-servers-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
STATEMENTS = Path(__file__).parents[1] / "integration" / "statements"
EVENT = {
    "eventId": "hot-gala",
    "name": "Hot gala",
    "tiers": [{"tier": "HOT", "price": "45.50", "capacity": 8}],
    "payment": {"currency": "EUR", "secondsToPay": 600},
}


def statement(references: list[str]) -> str:
    credits = [camt053.credit(f"ENTRY-{n}", "45.50", reference=reference) for n, reference in enumerate(references)]
    return camt053.statement("DE89370400440532013000", credits)


@pytest.mark.slow
def test_a_paid_sale_through_servers_never_issues_a_ticket_without_its_money(store_env, tmp_path):
    env = {**store_env, "PROJECT_IN_PROCESS": "yes", "DEMO_TIERS": "", "ADMIN_TOKEN": TOKEN}
    env |= {"BOOKING_RATE_LIMIT": "", "ADMIN_AUTH_RATE_LIMIT": ""}
    servers = 2 if store_env["PERSISTENCE_MODULE"] == "eventsourcing.postgres" else 1
    with ExitStack() as stack:
        logs = [stack.enter_context(open(tmp_path / f"{n}.log", "w")) for n in range(servers)]
        bases = [stack.enter_context(gunicorn(env, log))[0] for log in logs]
        assert call(f"{bases[0]}/api/admin/events", EVENT, ADMIN).status == 201
        outright = call(f"{bases[-1]}/api/tickets/book", {"userId": "x", "tier": "HOT", "quantity": 1})
        assert (outright.status, outright.body["error"]["code"]) == (402, "PAYMENT_REQUIRED")

        def hold(n: int):
            return call(
                f"{bases[n % servers]}/api/tickets/hold", {"userId": f"buyer-{n}", "tier": "HOT", "quantity": 1}
            )

        with ThreadPoolExecutor(16) as pool:
            holds = [reply.body["holdId"] for reply in pool.map(hold, range(20)) if reply.status == 201]
        assert len(holds) == 8  # the rest: INSUFFICIENT_TICKETS
        references = [
            call(f"{bases[n % servers]}/api/bookings/{h}/payment").body["reference"] for n, h in enumerate(holds)
        ]
        by_bank, at_counter = references[:3], holds[3:7]  # and one left unpaid

        def counter(n: int):
            body = {"amount": 4550, "currency": "EUR", "method": "cash", "receipt": f"till-{n % 4}"}
            return call(f"{bases[n % servers]}/api/admin/payments/{at_counter[n % 4]}/box-office", body, ADMIN)

        def bank(n: int):
            return call(f"{bases[n % servers]}/api/admin/payments/statements", {"camt053": statement(by_bank)}, ADMIN)

        with ThreadPoolExecutor(8) as pool:
            paid = list(pool.map(counter, range(8)))  # each payment twice
            imports = list(pool.map(bank, range(2)))  # the statement twice at once
        assert {reply.status for reply in paid} == {200}, [reply.body for reply in paid]
        assert sum(reply.body["counts"]["paid"] for reply in imports) == 3
        assert sum(reply.body["counts"]["skipped"] for reply in imports) == 3
        books = call(f"{bases[0]}/api/admin/payments/books", headers=ADMIN).body
        assert books["balanced"], books["problems"]

    with BookingLedger(env=store_env) as ledger:
        tier = ledger.get_tier("HOT")
        (money,) = MoneyBooks(ledger).money_per_event()
        assert MoneyAudit(ledger).verify() == []
    assert (tier.sold, tier.held, tier.available) == (7, 1, 0)
    assert (money.received, money.paid_orders_cost, money.paid_bookings) == (7 * 4550, 7 * 4550, 7)
