"""What each fault raised at the watch's webhook receiver (``verify --cluster`` keeps the
receiver's record, ``alerts.jsonl``, beside the history): every alert that reached it firing
within ``WITHIN`` seconds of the fault's start and was not firing already, how long after the
start, and when its resolved notice came, if one came before the watch was ended.

``EXPECTED`` names the alert that tells an operator of each fault's cause
(docs/production.md, "Watching"); a fault whose expected alert did not come is marked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from scripts.verify.history import Fault

WITHIN = 60.0  # seconds from a fault's start in which its alert must reach the receiver
EXPECTED = {
    "primary": "PatroniMemberDown",
    "host-lost": "PatroniMemberDown",
    "lagging-primary": "PatroniMemberDown",
    "two-lost": "PatroniMemberDown",
    "partition": "PostgresDown",  # the cut-off leader, demoted, does not come back as a standby
    "etcd-lost": "EtcdMemberDown",
    "dcs-lost": "EtcdMemberDown",
    "web-host-lost": "WebHostDown",
    "redis-lost": "RedisDown",
}  # none for a switchover (planned) or a server back in 2 s (``server``: under WebHostDown's 20 s)
# Alerts over windows of minutes to days (the error budget's burn, the booking p95 over 5 min):
# they outlast a run of minutes, so the run does not wait for them to resolve.
OUTLAST_A_RUN = {"ErrorBudgetBurnFast", "ErrorBudgetBurnSlow", "BookingLatencyHigh"}


@dataclass(frozen=True)
class Raised:
    alert: str
    instance: str
    after: float  # seconds from the fault's start to the firing notice
    resolved: float | None  # seconds from the fault's start to the resolved notice (None: none came)


def raised(fault: Fault, record: list[dict[str, Any]]) -> list[Raised]:
    """The alerts ``fault`` raised, by the receiver's ``record`` (``alert_receiver.received``)."""
    found = [episode for episode in episodes(record) if fault.began <= episode.after <= fault.began + WITHIN]
    return sorted(
        (
            Raised(e.alert, e.instance, e.after - fault.began, None if e.resolved is None else e.resolved - fault.began)
            for e in found
        ),
        key=lambda r: r.after,
    )


def unresolved(record: list[dict[str, Any]]) -> list[Raised]:
    """The alerts still firing that should resolve within a run once its faults are mended."""
    return [e for e in episodes(record) if e.resolved is None and e.alert not in OUTLAST_A_RUN]


def episodes(record: list[dict[str, Any]]) -> list[Raised]:
    """Each time an alert fired, from its first firing notice to its resolved one, in Unix
    seconds (the receiver's clock); Alertmanager's repeated firing notices in between add none."""
    done: list[Raised] = []
    open_: dict[str, Raised] = {}  # by the alert's fingerprint
    for entry in record:
        for alert in entry["notice"].get("alerts", []):
            key, labels = alert["fingerprint"], alert["labels"]
            if alert["status"] == "firing" and key not in open_:
                open_[key] = Raised(labels.get("alertname", "?"), labels.get("instance", ""), entry["received"], None)
            elif alert["status"] == "resolved" and key in open_:
                done.append(replace(open_.pop(key), resolved=entry["received"]))
    return done + list(open_.values())
