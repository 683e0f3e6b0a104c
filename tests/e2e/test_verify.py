"""``ticketledger verify``, short: two gunicorn servers and the projection process on a
private PostgreSQL cluster, clients booking, holding, confirming, releasing and
cancelling against both (the same key sent to both servers at once), a worker and then a
whole server SIGKILLed; afterwards the history must agree with the event store in every
respect the checker knows (scripts/verify/checker.py, linearizability.py).

With ``--payments``, buyers of a paid event and their money, delivered by a hostile side,
checked against the payments' own events (scripts/verify/paying.py, money.py).

``make verify`` runs the same for longer, with PostgreSQL crashes too.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations

import pytest

from scripts.verify.history import Attempt, load
from scripts.verify.run import Settings, verify

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def sent_to_two_servers_at_once(attempts: list[Attempt]) -> int:
    """Keyed requests with attempts on different servers that were in flight together."""
    by_request: dict[str, list[Attempt]] = defaultdict(list)
    for a in attempts:
        if a.key is not None:
            by_request[a.request].append(a)
    return sum(
        any(a.server != b.server and a.sent < b.answered and b.sent < a.answered for a, b in combinations(found, 2))
        for found in by_request.values()
    )


def test_a_short_run_with_a_worker_and_a_server_killed_finds_no_anomaly():
    """The run's files stay in var/verify/ (its summary names the folder) for a look after a failure."""
    report = verify(Settings(seconds=30, clients=12, faults=("worker", "server"), fault_every=10))
    print(report.text)

    attempts = report.history.attempts
    assert load(report.folder / "history.jsonl").attempts == attempts  # every attempt is in the file
    assert [f.kind for f in report.history.faults] == ["worker", "server"]
    assert any(a.indeterminate for a in attempts), "no client noticed a fault: it tested nothing"
    assert sent_to_two_servers_at_once(attempts) >= 20
    assert {a.op for a in attempts if a.acknowledged} == {"book", "hold", "confirm", "release", "cancel"}
    assert report.anomalies == [], report.text


def test_with_postgresql_a_network_away_and_restarted_no_anomaly_is_found():
    """The servers and the projection process reach PostgreSQL through the delaying proxy
    (1 ms a round trip), and PostgreSQL crashes and restarts under them: what crosses the
    proxy and what the proxy's broken connections do are checked in the same history."""
    report = verify(Settings(seconds=25, clients=12, faults=("postgres",), fault_every=10, rtt_ms=1.0))
    print(report.text)

    assert [f.kind for f in report.history.faults] == ["postgres"]
    assert any(a.indeterminate for a in report.history.attempts), "no client noticed the crash: it tested nothing"
    assert sum(a.acknowledged for a in report.history.attempts) >= 200
    assert report.anomalies == [], report.text


def test_payments_under_worker_postgres_and_server_faults_leave_no_money_unaccounted():
    """``--payments``: buyers of a paid event pay by card, bank statement and box office while
    the delivery side repeats, reorders and delays the money (scripts/verify/paying.py), and a
    worker, PostgreSQL and then a whole server go down; the money, read from the store's own
    events and from Stripe's stand-in, must balance to the cent (scripts/verify/money.py)."""
    report = verify(Settings(seconds=30, clients=6, payers=6, faults=("worker", "postgres", "server"), fault_every=5))
    print(report.text)

    attempts, money = report.history.attempts, report.money
    assert money is not None
    assert [f.kind for f in report.history.faults] == ["worker", "postgres", "server"]
    assert any(a.indeterminate for a in attempts if a.op in ("webhook", "statement", "box-office", "hold"))
    delivered = {
        op: sum(a.acknowledged for a in attempts if a.op == op) for op in ("webhook", "statement", "box-office")
    }
    assert all(n >= 5 for n in delivered.values()), delivered
    redelivered = Counter(a.args["id"] for a in attempts if a.op == "webhook" and a.args["type"].endswith("succeeded"))
    assert max(redelivered.values()) >= 2  # a webhook delivered again
    assert {m.how for p in money.payments.values() for m in p.received} == {"card", "bank_transfer", "cash"}
    assert {m.how for p in money.payments.values() for m in p.refunds_requested} == {"late", "cancelled"}
    assert "paid" in {c.match for c in money.credits} and sum(money.stripe_refunded.values()) > 0
    assert report.anomalies == [], report.text
