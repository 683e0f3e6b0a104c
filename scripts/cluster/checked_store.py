"""The Patroni nodes as the history checker's store (``ticketledger verify --cluster``), with
the faults only a replicated store has.

It has the interface of ``scripts.harness.private_postgres.PrivatePostgres`` (``settings``,
``crash``, ``start``, ``remove``), so the checker's hosts use either; the web hosts reach it
through HAProxy's write port, as in production.

A fault that loses something for good (a node's host, an etcd member) leaves it lost: the
service must keep writing without it. Before the next fault strikes, the injector brings
back what the last one lost (``heal``: a rebuilt host joining again), so every fault
strikes a whole topology.
"""

from __future__ import annotations

import random
import secrets
import shutil
import time
from pathlib import Path

import redis

from scripts.cluster import recorded, redis_sentinel, watching
from scripts.cluster.alert_receiver import received
from scripts.cluster.database import Database, etcd_healthy, members
from scripts.cluster.layout import BALANCER, ETCD_MEMBERS, HTTP_PORT, NODES, Node, store_settings
from scripts.cluster.links import cut_off, cut_replication, mend_links
from scripts.harness.processes import call, wait_for
from scripts.verify.alerts import unresolved
from scripts.verify.queue_flood import BACK_WITHIN, ROOM_TIER, Flood, Judged, acknowledged, judged, kept_places, look_up

LAG_SECONDS = 2.0  # how long the link drops the standbys' WAL before the primary is lost
FAILOVER = 90.0  # seconds a failover may take before the run fails (Patroni's ttl is 20)
REJOIN = 90.0  # seconds a node started again may take to stream as a standby
STILL_DOWN = 10.0  # seconds the service keeps writing with a lost host still gone, in the fault
DCS_DOWN = 30.0  # seconds every etcd member is gone: longer than Patroni's ttl of 20
TWO_DOWN = 15.0  # seconds both standbys are gone
CUT_AFTER = 5.0  # seconds the old leader stays cut off once a new one takes writes
SETTLE = 90.0  # seconds the alerts of the last fault may take to resolve once it is mended
REDIS = redis_sentinel.CLUSTER  # the queue's and the limits' Redis, as make cluster runs it
QUEUE_PREFIX = "ticket-ledger:queue"  # the servers' default QUEUE_REDIS_PREFIX (web/settings.py)
FLOOD_BEFORE = 2.0  # seconds buyers join before the Redis primary is lost
REDIS_DOWN = 30.0  # seconds the lost Redis host stays down: over RedisDown's 15 s and a scrape


class ClusterStore:
    def __init__(self, synchronous: bool = True, alerts: Path | None = None, web: list[str] | None = None) -> None:
        """``alerts``: where the watch's notices are kept when the store is removed; ``web``: the
        checker's servers (host:port), balanced by HAProxy's HTTP front and watched."""
        if recorded.names():
            raise RuntimeError("a make cluster topology is running: make cluster-down first")
        self.database = Database(web or [], synchronous)
        self.database.up()
        redis_sentinel.up(recorded.spawn)
        self.watch = watching.start(watching.database_side(web, [REDIS.primary, REDIS.replica]))
        self.admin_token = secrets.token_urlsafe(16)
        self.room_open = False
        self.floods: list[Judged] = []  # each redis-lost fault's waiting room, judged
        self.alerts = alerts
        self.lost_nodes: list[Node] = []
        self.lost_members: list[str] = []
        self.rng = random.Random()

    @property
    def entrances(self) -> list[str]:
        """Where clients send their requests: HAProxy's HTTP front, as in production, which
        takes a server out once it fails its checks and sends a refused request to another."""
        return [f"http://{BALANCER}:{HTTP_PORT}"]

    @property
    def settings(self) -> dict[str, str]:
        """The store's, and what the servers need to reach the queue's and limits' Redis
        through its Sentinels (as make cluster's web hosts do) and to open the room."""
        return {
            **{key: value for key, value in store_settings().items() if key != "POSTGRES_SCHEMA"},
            "QUEUE_STORAGE_URI": REDIS.url,
            "RATE_LIMIT_STORAGE_URI": REDIS.url,
            "ADMIN_TOKEN": self.admin_token,
        }

    # Faults.

    def lose_primary(self) -> str:
        """Kill the leader's host; once writes go through again, bring it back: it must
        rejoin as a standby. Says which node, how far behind the standbys were by Patroni's
        last look, and how long until the probe wrote again."""
        leader, behind = self.leader_and_lag()
        began = time.monotonic()
        self.database.lose_host(leader)
        self.lost_nodes.append(leader)
        return self.failed_over(leader, behind, began) + self.heal()

    def lose_host_for_good(self) -> str:
        """Kill the leader's host and leave it down: writes must come back and go on on
        the two nodes left (quorum commit: the one standby left acknowledges)."""
        leader, behind = self.leader_and_lag()
        began = time.monotonic()
        self.database.lose_host(leader)
        self.lost_nodes.append(leader)
        said = self.failed_over(leader, behind, began)
        time.sleep(STILL_DOWN)
        return f"{said}; left down"

    def lose_lagging_primary(self) -> str:
        """The standbys fall behind (the link from the leader drops its WAL for
        ``LAG_SECONDS``: an nftables rule), then the leader's host is lost with what it did
        not send. Synchronous, the commits of those seconds wait for a standby and are
        never acknowledged; asynchronous, they are acknowledged and lost with the host: the
        checker's guard (docs/production.md)."""
        leader, _ = self.leader_and_lag()
        cut_replication(leader)
        try:
            time.sleep(LAG_SECONDS)
            _, behind = self.leader_and_lag()
            began = time.monotonic()
            self.database.lose_host(leader)
            self.lost_nodes.append(leader)
        finally:
            mend_links()
        return self.failed_over(leader, behind, began) + self.heal()

    def cut_off_primary(self) -> str:
        """The leader's host cut off from the other nodes and from etcd (nftables rules on
        loopback, both ways), clients still reaching it through HAProxy: it must demote
        itself (it can renew its key nowhere, and failsafe mode reaches no other node),
        and another must be promoted; the link mended, it rejoins as a standby."""
        leader, behind = self.leader_and_lag()
        others = {n.name: n.address for n in NODES if n != leader} | dict(ETCD_MEMBERS)
        began = time.monotonic()
        cut_off(leader.name, leader.address, others)
        try:
            wait_for(lambda: self.database.leader() not in (None, leader), FAILOVER, "another node to lead")
            said = self.failed_over(leader, behind, began)
            time.sleep(CUT_AFTER)
        finally:
            mend_links()
        self.rejoined(2)
        return said + "; link mended, rejoined"

    def lose_two_hosts(self) -> str:
        """Both standbys' hosts lost for ``TWO_DOWN`` seconds: the leader is alone, and
        strict mode must make it acknowledge nothing (every commit waits for a standby,
        the service answers 503 or nothing) until one is back."""
        leader = self.database.leader()
        standbys = [node for node in NODES if node != leader]
        for node in standbys:
            self.database.lose_host(node)
        self.lost_nodes += standbys
        time.sleep(TWO_DOWN)
        return f"{', '.join(n.name for n in standbys)} lost {TWO_DOWN:.0f} s" + self.heal()

    def switchover(self) -> str:
        began = time.monotonic()
        new = self.database.switchover()
        wait_for(lambda: self.database.leader() == new and self.database.writable(), FAILOVER, "the switchover")
        unavailable = time.monotonic() - began
        self.rejoined(2)
        return f"to {new.name}, probe wrote again after {unavailable:.1f} s"

    def lose_etcd_member(self) -> str:
        """One etcd member's host lost and left down: the two left are a majority, so
        Patroni goes on as if nothing happened."""
        name = self.rng.choice(list(ETCD_MEMBERS))
        recorded.end(name)
        self.lost_members.append(name)
        time.sleep(STILL_DOWN)
        return f"{name} lost; left down"

    def lose_dcs(self) -> str:
        """Every etcd member gone for ``DCS_DOWN`` seconds (longer than the leader key's
        ttl): with failsafe mode the leader keeps writing as long as it reaches every other
        node's Patroni; without it, it would demote itself and writes would stop until etcd
        came back. Then etcd is started again."""
        for name in ETCD_MEMBERS:
            recorded.end(name)
        self.lost_members += list(ETCD_MEMBERS)
        time.sleep(DCS_DOWN)
        leader = self.database.leader()
        return f"every etcd member gone {DCS_DOWN:.0f} s, leader then {leader.name if leader else 'none'}" + self.heal()

    def lose_redis_primary(self) -> str:
        """A waiting-room flood through the balancer; ``FLOOD_BEFORE`` s in, SIGKILL the Redis
        primary's process (its host lost: Redis keeps nothing on disk); the flood goes on
        ``BACK_WITHIN`` + 2 s, then every acknowledged ticket is looked up and the room judged
        (``scripts/verify/queue_flood.py``). The lost host comes back after ``REDIS_DOWN`` s,
        and the Sentinels make it a replica of the new primary."""
        base = self.entrances[0]
        if not self.room_open:
            auth = {"Authorization": f"Bearer {self.admin_token}"}
            opened = call(f"{base}/api/admin/waiting-room", {"tiers": [ROOM_TIER.split(":")[0]], "rate": 5}, auth)
            assert opened.status == 201, f"the waiting room did not open: {opened.status} {opened.body}"
            self.room_open = True
        primary = REDIS.primary_now()
        name = "redis-primary" if primary == REDIS.primary else "redis-replica"
        with Flood([base], prefix=f"flood{len(self.floods)}-") as flood:
            time.sleep(FLOOD_BEFORE)
            recorded.kill(recorded.pid_of(name))
            lost_at = time.monotonic()
            time.sleep(BACK_WITHIN + 2)
        wait_for(lambda: REDIS.primary_now() not in (None, primary), FAILOVER, "the Sentinels to promote the replica")
        promoted = REDIS.primary_now()
        assert promoted is not None
        kept = kept_places(redis.Redis(*promoted), QUEUE_PREFIX)
        seen = look_up([base], acknowledged(flood.answers))
        newcomer = call(f"{base}/api/queue", {"userId": f"after-flood{len(self.floods)}"}).body["number"]
        found = judged(flood.answers, lost_at, kept, seen, newcomer)
        self.floods.append(found)
        time.sleep(max(0.0, lost_at + REDIS_DOWN - time.monotonic()))
        recorded.respawn(name)
        REDIS.wait_until_ready(REJOIN)
        return f"{name} {primary[0] if primary else '?'} lost; {found.line()}"

    # Recovery.

    def settle(self) -> None:
        """At the end of the faults: bring back what the last one left lost, and give the
        alerts it raised up to ``SETTLE`` seconds to resolve at the receiver, so the run's
        report says whether they did."""
        self.heal()
        try:
            wait_for(lambda: not unresolved(received(self.watch.record)), SETTLE, "the alerts to resolve")
        except TimeoutError:
            pass  # the report lists them as not resolved

    def leader_and_lag(self) -> tuple[Node, int]:
        leader = self.database.leader()
        assert leader is not None, "no leader to lose"
        lag = max((m.get("lag", 0) or 0 for m in members(leader) if m.get("name") != leader.name), default=0)
        return leader, int(lag)

    def failed_over(self, lost: Node, behind: int, began: float) -> str:
        wait_for(self.database.writable, FAILOVER, "a new leader to take writes")
        unavailable = time.monotonic() - began
        return f"{lost.name} lost (standbys {behind} B behind), probe wrote again after {unavailable:.1f} s"

    def heal(self) -> str:
        """Bring back what earlier faults left lost, and wait until it has joined again."""
        healed = [*self.lost_members, *(n.name for n in self.lost_nodes)]
        for name in self.lost_members:
            recorded.respawn(name)
        wait_for(lambda: all(etcd_healthy(a) for a in ETCD_MEMBERS.values()), REJOIN, "etcd's members to be back")
        for node in self.lost_nodes:
            self.database.start_node(node)
        if self.lost_nodes:
            self.rejoined(2)
        self.lost_nodes, self.lost_members = [], []
        return f"; {', '.join(healed)} back" if healed else ""

    def rejoined(self, standbys: int) -> None:
        wait_for(
            lambda: self.database.leader() is not None and self.database.standby_streaming(standbys),
            REJOIN,
            f"{standbys} nodes to stream as standbys",
        )

    # PrivatePostgres's interface: a crash of the store is the loss of its primary.

    def crash(self) -> None:
        leader = self.database.leader()
        if leader is not None:
            self.database.lose_host(leader)
            self.lost_nodes.append(leader)

    def start(self) -> float:
        began = time.monotonic()
        wait_for(self.database.writable, FAILOVER, "a new leader to take writes")
        self.heal()
        return time.monotonic() - began

    def remove(self) -> None:
        if self.alerts is not None and self.watch.record.exists():
            shutil.copyfile(self.watch.record, self.alerts)  # the alerts the faults raised, kept with the run
        self.database.down()
