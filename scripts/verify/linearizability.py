"""Is each tier's counter linearizable? Checked against the tier's recorded events.

A tier's event stream *is* its serial order: version 1, 2, 3, ... Replaying it gives the
availability after every version (``TierStep.available``). Every acknowledged operation
has an effect at one version: a 201 booking or hold its ``TicketsBooked``/``TicketsHeld``,
a 200 confirm ``HoldConfirmed``, a release ``HoldReleased``, a cancel ``TicketsReleased``
(found by booking id; a missing one is the receipts check's business). The service is
linearizable if this serial order agrees with what the clients saw:

- **Real time.** An effect is recorded before it is acknowledged: its event's timestamp
  (taken when it was decided, before the commit) is not after the answer came. And if
  operation A was answered before request B was sent, A's version is lower than B's
  (B decided on a tier that already held A). For a request sent several times (a retry
  with the same key, or one sent to two servers at once), B's effect may have been
  recorded by any of its attempts, so the bound is taken at its first attempt's sending.
- **The remaining quantity.** A fresh booking's or hold's ``remainingQuantity`` is the
  availability right after its own event. A keyed request answered from an earlier
  recording (a replay) reports the tier's availability *now*, as read while answering:
  it must be the availability at some version the tier had during the attempt, i.e. at
  a version from the highest one acknowledged before the attempt was sent, up to the
  highest one whose event was created before the answer came. As it cannot be told which
  of a repeated request's attempts recorded it, every attempt of a repeated keyed request
  is checked that way (which is weaker: a fresh answer with a wrong figure that some
  version of that interval had would pass).

An attempt is *fresh* when its request was sent once, or when it carried no key and
books, holds or cancels (each such attempt that succeeds records its own effect).
Times are Unix seconds from the one machine's clock, which the servers also stamp
events with; a clock step during a run would invalidate the real-time comparisons.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable
from itertools import accumulate

from scripts.verify.anomaly import Anomaly
from scripts.verify.history import Attempt
from scripts.verify.store import Store, TierStep

KINDS = {
    "real-time-order": "an acknowledged operation whose event was created after its answer, or that was recorded "
    "before an operation acknowledged before it was sent",
    "wrong-remaining": "a remainingQuantity that the tier never had at the right moment (fresh: right after the "
    "booking's own event; replayed: during the request)",
}
EFFECT = {
    "book": "TicketsBooked",
    "hold": "TicketsHeld",
    "confirm": "HoldConfirmed",
    "release": "HoldReleased",
    "cancel": "TicketsReleased",
}
SLACK = 1e-6  # seconds: timestamps are stored to the microsecond


class TierTimeline:
    """One tier's versions against real time, from its events and its acknowledgements."""

    def __init__(self, steps: list[TierStep], acknowledged: list[tuple[Attempt, int]]) -> None:
        self.steps = steps
        # The highest version acknowledged by the time t: bisect the answers. An answer
        # that came before its event existed proves nothing about what was recorded by
        # then (it is an anomaly of its own), so it does not count here.
        ordered = sorted(
            ((a, v) for a, v in acknowledged if not self.premature(a, v)), key=lambda pair: pair[0].answered
        )
        self._answered = [a.answered for a, _ in ordered]
        self._highest = list(accumulate((v for _, v in ordered), max))
        # The highest version whose event was created by the time t: bisect the suffix
        # minima of the timestamps (they rise with the version, but nothing relies on it).
        self._created = list(reversed(list(accumulate(reversed([s.at for s in steps]), min))))

    def premature(self, a: Attempt, version: int) -> bool:
        """Was ``a`` answered before the event of its effect was even created?"""
        return self.steps[version - 1].at > a.answered + SLACK

    def acknowledged_before(self, t: float) -> int:
        """The highest version acknowledged strictly before ``t`` (0: none)."""
        n = bisect_left(self._answered, t)
        return self._highest[n - 1] if n else 0

    def created_by(self, t: float) -> int:
        """The highest version whose event was created at or before ``t``."""
        return bisect_right(self._created, t + SLACK)

    def available(self, version: int) -> int:
        return self.steps[version - 1].available


def check(attempts: list[Attempt], store: Store) -> list[Anomaly]:
    effects = {(s.event, s.booking_id): (code, s.version) for code, steps in store.tiers.items() for s in steps}
    sent_times = Counter(a.request for a in attempts)
    first_sent: dict[str, float] = {}
    for a in attempts:
        first_sent[a.request] = min(a.sent, first_sent.get(a.request, a.sent))
    acknowledged: dict[str, list[tuple[Attempt, int]]] = defaultdict(list)
    for a in attempts:
        found = effects.get((EFFECT.get(a.op), a.booking_id)) if a.acknowledged else None  # payments: money.py
        if found is not None:
            acknowledged[found[0]].append((a, found[1]))
    anomalies = []
    for code, pairs in acknowledged.items():
        steps = store.tiers[code]
        if [s.version for s in steps] != list(range(1, len(steps) + 1)):
            continue  # a history with a gap has no timeline to check: the audit names the gap
        timeline = TierTimeline(steps, pairs)
        for a, version in pairs:
            fresh = sent_times[a.request] == 1 or (a.key is None and a.op in ("book", "hold", "cancel"))
            began = a.sent if fresh else first_sent[a.request]
            anomalies += order(a, version, began, timeline, code)
            if a.op in ("book", "hold"):
                anomalies += remaining(a, version, fresh, timeline, code)
    return anomalies


def order(a: Attempt, version: int, began: float, timeline: TierTimeline, code: str) -> Iterable[Anomaly]:
    if timeline.premature(a, version):
        yield Anomaly(
            "real-time-order",
            f"attempt {a.id} ({a.op} {a.request}) was answered at {a.answered:.6f}, "
            f"before its event (tier {code} version {version}) was created at "
            f"{timeline.steps[version - 1].at:.6f}",
            (a.id,),
        )
    before = timeline.acknowledged_before(began)
    if version <= before:
        yield Anomaly(
            "real-time-order",
            f"attempt {a.id} ({a.op} {a.request}) is recorded at tier {code} version "
            f"{version}, but version {before} was acknowledged before it was sent",
            (a.id,),
        )


def remaining(a: Attempt, version: int, fresh: bool, timeline: TierTimeline, code: str) -> Iterable[Anomaly]:
    answered = a.body.get("remainingQuantity")
    if fresh:
        if answered != timeline.available(version):
            yield Anomaly(
                "wrong-remaining",
                f"attempt {a.id} ({a.op} {a.request}) answered remainingQuantity "
                f"{answered}; right after its event (tier {code} version {version}) "
                f"{timeline.available(version)} were available",
                (a.id,),
            )
        return
    low, high = max(1, timeline.acknowledged_before(a.sent)), timeline.created_by(a.answered)
    if not any(timeline.available(v) == answered for v in range(low, high + 1)):
        had = sorted({timeline.available(v) for v in range(low, high + 1)})
        yield Anomaly(
            "wrong-remaining",
            f"attempt {a.id} ({a.op} {a.request}, answered from an earlier recording) "
            f"answered remainingQuantity {answered}; during it tier {code} was at "
            f"versions {low}..{high}, with availabilities {had[:10]}"
            f"{' ...' if len(had) > 10 else ''}",
            (a.id,),
        )
