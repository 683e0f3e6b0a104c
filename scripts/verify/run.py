"""Check every answer against the event store, under faults.

A Jepsen-style history checker: the proof from outside that every 201 is a recorded
booking.

    ticketledger verify                       # or: make verify (longer, every fault)
    ticketledger verify --seconds 30 --faults worker
    ticketledger verify --faults none         # concurrency alone
    ticketledger verify --recheck var/verify/20261124T083000   # check a run's files again
    ticketledger verify --rtt-ms 1            # PostgreSQL 1 ms away, through a delaying proxy
    ticketledger verify --cluster --faults primary,switchover   # on the Patroni nodes (make verify-cluster)
    ticketledger verify --payments            # and a paid event's buyers, their money delivered by a hostile side

Deploys the service as production does, on a private PostgreSQL cluster of its own
(initdb on a free port, removed afterwards; the shared server is never touched): two
gunicorn servers on ports of their own and python -m projections (which also expires
holds, here after HOLD_SECONDS=3). Client threads book, hold, confirm, release and
cancel against both servers, with and without Idempotency-Key, a third of the keyed
requests sent to both servers at once, each retried after a timeout, a connection error
or a 5xx (to the other server, with the same key). Meanwhile faults strike in turn:
a gunicorn worker SIGKILLed, a whole server SIGKILLed and restarted, PostgreSQL crashed
(pg_ctl stop -m immediate) and restarted, the projection process SIGKILLed and
restarted. Every attempt goes to a JSON-lines history.

Then, once the holds have expired and the read tables caught up, it reads the event
store directly and checks the history against it: every 201 and 200 recorded as
answered, no key with two bookings or two ids, every booking and change accounted for
by a request (each unanswered one happened once or not at all), the books of every
tier balanced at every version, the read tables equal to the events, and the tier
counter linearizable (scripts/verify/checker.py, linearizability.py).

With --payments, buyers of a paid event pay by card (a Stripe stand-in), bank statement
and box office beside the other clients, their money delivered repeated, out of order and
late, and the money is checked too (scripts/verify/paying.py, money.py).

Prints a summary; exits 1 if any anomaly was found, 2 if the run itself failed (a
process that would not start again, say). The run's folder keeps the history
(history.jsonl), the store as read (store.json), every anomaly (anomalies.jsonl), the
summary and the processes' logs.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from application import BookingLedger
from projections import Projector, open_view
from scripts.cluster.alert_receiver import received
from scripts.harness.private_postgres import PrivatePostgres
from scripts.harness.processes import ROOT, wait_for
from scripts.harness.stripe_standin import StripeStandIn
from scripts.verify import history as history_file
from scripts.verify import money as money_file
from scripts.verify import options, paying
from scripts.verify import store as store_file
from scripts.verify.anomaly import Anomaly
from scripts.verify.checker import check
from scripts.verify.client import Sender
from scripts.verify.faults import KINDS, FaultInjector
from scripts.verify.history import History, HistoryLog
from scripts.verify.hosts import Hosts
from scripts.verify.money import MoneyRecord, check_money, money_lines, read_money
from scripts.verify.paying import Buyer, BuyerMix, Delivery
from scripts.verify.queue_flood import ROOM_TIER, Judged
from scripts.verify.store import Store, read_store
from scripts.verify.summary import summary
from scripts.verify.workload import Client, Mix, Tier, run_clients

TIERS = (Tier("HOT", "10.00", 1_000_000, 0.8), Tier("SMALL", "50.00", 60, 0.2))  # one never sells out, one does
ATTEMPT_TIMEOUT = 10.0  # seconds a client waits for one answer
MAX_ATTEMPTS = 10  # of one logical request
REQUEST_DEADLINE = 30.0  # seconds one logical request may take, retries included
QUIET_TIMEOUT = 60.0  # seconds for the last holds to expire and the read tables to catch up


@dataclass(frozen=True)
class Settings:
    seconds: float = 90.0
    clients: int = 24
    servers: int = 2
    faults: tuple[str, ...] = KINDS
    fault_every: float = 10.0  # seconds between faults
    hold_seconds: float = 3.0
    rtt_ms: float = 0.0  # PostgreSQL this far from the servers (a delaying proxy), or on loopback
    cluster: bool = False  # the store is the Patroni nodes behind HAProxy (scripts/cluster), not one PostgreSQL
    synchronous: bool = True  # the nodes' replication (False: the guard's runs)
    payers: int = 0  # buyers of a paid event beside the clients (--payments), with the hostile delivery side
    seconds_to_pay: int = 60  # the paid event's time to pay (the domain's least)
    seed: int = field(default_factory=lambda: random.randrange(1_000_000))
    output: Path | None = None  # folder for the history, logs and summary; default var/verify/<time>

    def service(self) -> dict[str, str]:
        """The servers' and the projection process's settings, on top of the store's."""
        return {
            "DEMO_TIERS": ",".join(
                [f"{t.code}:{t.price}:{t.capacity}" for t in TIERS] + ([ROOM_TIER] if self.cluster else [])
            ),
            "BOOKING_RATE_LIMIT": "",
            "HOLD_SECONDS": str(self.hold_seconds),
            "GUNICORN_WORKERS": "2",
            "LOG_LEVEL": "WARNING",
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_MAX_OVERFLOW": "10",
        }

    def described(self, history: Path) -> dict[str, object]:
        """The run's settings, for the history's first line."""
        return {
            "seconds": self.seconds,
            "clients": self.clients,
            "servers": self.servers,
            "faults": list(self.faults),
            "hold_seconds": self.hold_seconds,
            "rtt_ms": self.rtt_ms,
            "cluster": self.cluster,
            "synchronous": self.synchronous,
            "payers": self.payers,
            "seconds_to_pay": self.seconds_to_pay,
            "seed": self.seed,
            "history": str(history),
            "began": time.time(),
        }

    def fault_times(self) -> tuple[float, float]:
        """When the first fault strikes, and the latest a fault may start: late enough
        for the service to have warmed up, early enough to recover before the end."""
        return max(3.0, 0.15 * self.seconds), max(3.0, self.seconds - 15.0)


@dataclass
class Report:
    history: History
    store: Store
    anomalies: list[Anomaly]
    folder: Path
    money: MoneyRecord | None = None  # with --payments
    floods: list[Judged] = field(default_factory=list)  # each redis-lost fault's waiting room

    @property
    def text(self) -> str:
        text = summary(self.history, self.store, self.anomalies, received(self.folder / "alerts.jsonl"))
        floods = [flood.line() for flood in self.floods]
        return "\n".join([text, *floods] + ([] if self.money is None else ["", *money_lines(self.money)]))

    def save(self) -> None:
        """The anomalies, one JSON line each, the waiting rooms judged, and the summary, beside the history."""
        with open(self.folder / "anomalies.jsonl", "w") as out:
            out.writelines(json.dumps(asdict(anomaly)) + "\n" for anomaly in self.anomalies)
        with open(self.folder / "floods.jsonl", "w") as out:
            out.writelines(json.dumps(asdict(flood)) + "\n" for flood in self.floods)
        (self.folder / "summary.txt").write_text(self.text + "\n")


def verify(settings: Settings) -> Report:
    """Run the service under load and faults, then check the history against the store.
    Every process it started is ended, and the cluster removed, however it ends."""
    folder = settings.output or ROOT / "var" / "verify" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
    standin = StripeStandIn().start() if settings.payers else None
    service = {**settings.service(), **(paying.service_settings(standin.url) if standin else {})}
    hosts = Hosts(settings.servers, folder, service, settings.rtt_ms, store_maker(settings, folder))
    log: HistoryLog | None = None
    money: MoneyRecord | None = None
    try:
        hosts.start()
        if standin is not None:
            paying.create_event(hosts.urls[0], settings.seconds_to_pay)
        log = HistoryLog(folder / "history.jsonl", settings.described(folder / "history.jsonl"))
        charged = exercise(hosts, log, settings, standin)
        if settings.cluster:
            hosts.postgres.settle()  # the last fault mended, its alerts given time to resolve
        holds_last = max(settings.hold_seconds, settings.seconds_to_pay if standin else 0)
        store = quiesce_and_read(hosts, holds_last)
        if standin is not None:
            money = read_paid(hosts, store, charged, standin)
    finally:
        hosts.close()
        if log is not None:
            log.close()
        if standin is not None:
            standin.stop()
    store_file.save(store, folder / "store.json")
    if money is not None:
        money_file.save(money, folder / "money.json")
    floods = list(getattr(hosts.postgres, "floods", []))
    report = Report(log.history, store, checked(log.history, store, money, floods), folder, money, floods)
    report.save()
    return report


def checked(
    history: History, store: Store, money: MoneyRecord | None, floods: list[Judged] | None = None
) -> list[Anomaly]:
    """Every anomaly: the bookings', with payments the money's (scripts/verify/money.py), and
    each waiting room whose promise a redis-lost fault broke (scripts/verify/queue_flood.py)."""
    return (
        check(history, store)
        + (check_money(history.attempts, store, money) if money is not None else [])
        + [Anomaly("waiting-room", flood.line()) for flood in floods or [] if not flood.held]
    )


def read_paid(hosts: Hosts, store: Store, charged: dict[str, int], standin: StripeStandIn) -> MoneyRecord:
    """The money as the store recorded it, and the card money as Stripe's stand-in holds it."""
    with BookingLedger(env=hosts.store_env) as ledger:
        record = read_money(ledger, store.tiers)
    record.charged = dict(charged)
    record.stripe_refunded = {intent: standin.refunded(intent) for intent in charged}
    return record


def store_maker(settings: Settings, folder: Path) -> Callable[[list[str]], Any]:
    """What the run's store is made by: a private PostgreSQL, or the Patroni nodes."""
    if not settings.cluster:
        return lambda _: PrivatePostgres()
    from scripts.cluster.checked_store import ClusterStore  # needs a checkout and make cluster's tools

    return lambda web: ClusterStore(settings.synchronous, folder / "alerts.jsonl", web)


def exercise(hosts: Hosts, log: HistoryLog, settings: Settings, standin: StripeStandIn | None = None) -> dict[str, int]:
    """The clients (and with ``standin`` the paid event's buyers and the delivery of their
    money) for ``settings.seconds``, and the faults meanwhile. Returns what was charged by card."""
    rng, stop = random.Random(settings.seed), threading.Event()

    def sender(n: int, seed: float) -> Sender:
        return Sender(
            n, hosts.entrances, log, ATTEMPT_TIMEOUT, MAX_ATTEMPTS, REQUEST_DEADLINE, random.Random(seed), stop
        )

    clients = [
        Client(n, sender(n, rng.random()), list(TIERS), Mix(), settings.hold_seconds, random.Random(rng.random()))
        for n in range(settings.clients)
    ]
    delivery = None if standin is None else Delivery(standin, lambda n: sender(n, n), random.Random(rng.random()))
    buyers = [
        Buyer(n, sender(n, rng.random()), delivery, BuyerMix(), random.Random(rng.random()))
        for n in range(settings.clients, settings.clients + settings.payers)
        if delivery is not None
    ]
    faults = FaultInjector(hosts, log, list(settings.faults), random.Random(rng.random()))
    if settings.faults:
        first, last = settings.fault_times()
        faults.start(first, settings.fault_every, last)
    try:
        run_clients([*clients, *buyers], settings.seconds, stop, REQUEST_DEADLINE + ATTEMPT_TIMEOUT)
        if delivery is not None:
            delivery.close()  # what is still due is delivered, faults and all
    finally:
        stop.set()
        faults.stop()
    return delivery.charged if delivery is not None else {}


def recheck(folder: Path) -> Report:
    """Check a finished run's history against its saved store again."""
    history, store = history_file.load(folder / "history.jsonl"), store_file.load(folder / "store.json")
    money = money_file.load(folder / "money.json") if (folder / "money.json").exists() else None
    saved = folder / "floods.jsonl"
    floods = [Judged.loaded(json.loads(line)) for line in saved.read_text().splitlines()] if saved.exists() else []
    return Report(history, store, checked(history, store, money, floods), folder, money, floods)


def quiesce_and_read(hosts: Hosts, hold_seconds: float) -> Store:
    """Stop the servers, let the projection process expire the last holds and catch up,
    stop it, and read the quiet store."""
    hosts.stop_servers()
    with BookingLedger(env=hosts.store_env) as ledger:
        view = open_view(ledger)
        follower = Projector(ledger, view)  # only to measure the lag: the projection process does the work
        try:
            wait_for(
                lambda: view.next_expiry() is None and follower.lag() == 0,
                hold_seconds + QUIET_TIMEOUT,
                "the last holds to expire and the read tables to catch up",
            )
        except TimeoutError:
            pass  # the checker reports what was left undone
        hosts.stop_projector()
        return read_store(ledger, view, time.time())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_arguments(parser, Settings())


def run(args: argparse.Namespace) -> int:
    settings = Settings(
        args.seconds,
        args.clients,
        args.servers,
        args.faults,
        args.fault_every,
        args.hold_seconds,
        args.rtt_ms,
        args.cluster,
        not args.asynchronous,
        payers=paying.PAYERS if args.payments else 0,
        output=args.output,
        **({"seed": args.seed} if args.seed is not None else {}),
    )
    signal.signal(signal.SIGTERM, interrupt)  # cleaned up like Ctrl-C
    try:
        report = recheck(args.recheck) if args.recheck else verify(settings)
    except KeyboardInterrupt:
        print("interrupted: every process stopped, the cluster removed", flush=True)
        return 130
    except (RuntimeError, TimeoutError) as error:  # the run itself failed: nothing was checked
        print(f"the run failed, nothing was checked: {error}", file=sys.stderr, flush=True)
        return 2
    print(report.text, flush=True)
    return 1 if report.anomalies else 0


def interrupt(*_: object) -> None:
    raise KeyboardInterrupt
