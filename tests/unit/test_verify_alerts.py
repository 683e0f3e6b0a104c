"""verify --cluster reports, for each fault, the alerts that reached the webhook receiver
within a minute of its start and when each was resolved (``scripts/verify/alerts.py``)."""

from __future__ import annotations

from scripts.verify.alerts import raised
from scripts.verify.history import Fault, History
from scripts.verify.summary import alerts_table


def notice(received: float, status: str, name: str, fingerprint: str) -> dict:
    alert = {"status": status, "labels": {"alertname": name, "instance": "i"}, "fingerprint": fingerprint}
    return {"received": received, "notice": {"status": status, "alerts": [alert]}}


RECORD = [
    notice(90.0, "firing", "ErrorBudgetBurnFast", "budget"),  # firing before the fault: not its
    notice(125.0, "firing", "PatroniMemberDown", "member"),
    notice(135.0, "firing", "PatroniMemberDown", "member"),  # Alertmanager's repeat: the same episode
    notice(150.0, "resolved", "PatroniMemberDown", "member"),
    notice(170.0, "firing", "PostgresDown", "postgres"),  # over a minute after the fault's start
]


def test_a_fault_raised_the_alerts_first_firing_within_a_minute_of_its_start_with_their_resolution():
    found = raised(Fault("host-lost", "node1", 100.0, 130.0), RECORD)
    assert [(r.alert, r.after, r.resolved) for r in found] == [("PatroniMemberDown", 25.0, 50.0)]


def test_a_fault_whose_cause_raised_no_alert_is_marked_in_the_summary():
    history = History(run={"began": 0.0}, faults=[Fault("etcd-lost", "etcd2", 100.0, 110.0)])
    table = "\n".join(alerts_table(history, RECORD))
    assert "EtcdMemberDown  NO" in table and "PatroniMemberDown i +25 s (resolved +50 s)" in table
