"""The Patroni pair as the history checker's store (``ticketledger verify --cluster``), with
the faults only a replicated store has: the primary's host lost, and a switchover.

It has the interface of ``scripts.harness.private_postgres.PrivatePostgres`` (``settings``,
``crash``, ``start``, ``remove``), so the checker's hosts use either; the web hosts reach it
through HAProxy's write port, as in production.
"""

from __future__ import annotations

import time

from scripts.cluster.database import Database, cut_replication, members, mend_links
from scripts.cluster.layout import Node, store_settings
from scripts.harness.processes import wait_for

LAG_SECONDS = 2.0  # how long the link drops the standby's WAL before the primary is lost
FAILOVER = 90.0  # seconds a failover may take before the run fails (Patroni's ttl is 20)
REJOIN = 90.0  # seconds the old primary may take to rejoin as the standby


class ClusterStore:
    def __init__(self, synchronous: bool = True) -> None:
        self.database = Database([], synchronous)
        self.database.up()
        self.lost: Node | None = None

    @property
    def settings(self) -> dict[str, str]:
        return {key: value for key, value in store_settings().items() if key != "POSTGRES_SCHEMA"}

    def lose_primary(self) -> str:
        """Kill the leader's host; once writes go through again, bring it back: it must
        rejoin as the standby. Says which node, how far behind the standby was by Patroni's
        last look, and how long writes were unavailable."""
        leader, behind = self.leader_and_lag()
        began = time.monotonic()
        self.database.lose_host(leader)
        return self.failed_over(leader, behind, began)

    def lose_lagging_primary(self) -> str:
        """The standby falls behind (the link from the leader drops its WAL for
        ``LAG_SECONDS``: an nftables rule), then the leader's host is lost with what it did
        not send. Synchronous, the commits of those seconds wait for the standby and are
        never acknowledged; asynchronous, they are acknowledged and lost with the host: the
        checker's guard (docs/production.md)."""
        leader, _ = self.leader_and_lag()
        cut_replication(leader)
        try:
            time.sleep(LAG_SECONDS)
            _, behind = self.leader_and_lag()
            began = time.monotonic()
            self.database.lose_host(leader)
        finally:
            mend_links()
        return self.failed_over(leader, behind, began)

    def leader_and_lag(self) -> tuple[Node, int]:
        leader = self.database.leader()
        assert leader is not None, "no leader to lose"
        lag = max((m.get("lag", 0) or 0 for m in members(leader) if m.get("name") != leader.name), default=0)
        return leader, int(lag)

    def failed_over(self, lost: Node, behind: int, began: float) -> str:
        wait_for(self.database.writable, FAILOVER, "a new leader to take writes")
        unavailable = time.monotonic() - began
        self.database.start_node(lost)
        self.rejoined()
        return f"{lost.name} lost (standby {behind} B behind), writes back after {unavailable:.1f} s"

    def switchover(self) -> str:
        began = time.monotonic()
        new = self.database.switchover()
        wait_for(lambda: self.database.leader() == new and self.database.writable(), FAILOVER, "the switchover")
        unavailable = time.monotonic() - began
        self.rejoined()
        return f"to {new.name}, done after {unavailable:.1f} s"

    def rejoined(self) -> None:
        wait_for(
            lambda: self.database.leader() is not None and self.database.standby_streaming(),
            REJOIN,
            "the other node to stream as the standby",
        )

    # PrivatePostgres's interface: a crash of the store is the loss of its primary.

    def crash(self) -> None:
        self.lost = self.database.leader()
        if self.lost is not None:
            self.database.lose_host(self.lost)

    def start(self) -> float:
        began = time.monotonic()
        wait_for(self.database.writable, FAILOVER, "a new leader to take writes")
        if self.lost is not None:
            self.database.start_node(self.lost)
            self.rejoined()
        return time.monotonic() - began

    def remove(self) -> None:
        self.database.down()
