"""The automatic admission rate: AIMD on the booking latency of admitted buyers.

Signal: the 95th percentile of the server-side duration of the bookings and holds that
admitted buyers made in the last period, from every process (counted per latency bucket
in the queue store). Why latency and not throughput: a ledger that is not saturated
shows no throughput limit to measure, while queueing shows in latency as soon as the
admitted buyers ask for more than the ledger sells, before anything fails; and the
latency of admitted buyers is exactly what the room promises to keep low.

Rule, once a period (``PERIOD_SECONDS``), the way TCP finds a link's capacity:
- p95 above the target: multiply the rate by ``DECREASE`` (back off fast);
- p95 under half the target: multiply by ``FAST_INCREASE`` (far from the limit: find it quickly);
- p95 up to the target: add ``STEP`` of the rate's start value (probe gently);
- only grow while the rate is what holds buyers back (someone is waiting) and admitted
  buyers really book (at least ``DEMAND_SHARE`` of a booking per admission): throughput
  is the ceiling, so a rate that nobody uses cannot climb and later let a flood in;
- too few bookings to judge (``MIN_SAMPLES``): no change;
- always within ``[floor, max_rate]``, the floor being ``FLOOR_SHARE`` of the starting rate
  (at least ``MIN_RATE``). The latency cannot tell the ledger's queueing from a CPU shared
  with the flood of joins and looks, which cutting admissions does not relieve. The
  admin's starting rate is their judgement of a safe rate; a quarter of it keeps the sale
  moving.
"""

from __future__ import annotations

from dataclasses import dataclass

PERIOD_SECONDS = 2
DECREASE = 0.7
FAST_INCREASE = 1.5
STEP = 0.1
DEMAND_SHARE = 0.5
MIN_SAMPLES = 10
MIN_RATE = 1.0
FLOOR_SHARE = 0.25
# Upper edges (ms) of the latency buckets a booking is counted in; the last is open.
BUCKETS_MS = (5, 10, 20, 30, 40, 50, 75, 100, 150, 200, 300, 500, 1000, 2000, 5000)


def bucket_of(milliseconds: float) -> int:
    """The index of the bucket a duration falls in."""
    return next((i for i, edge in enumerate(BUCKETS_MS) if milliseconds <= edge), len(BUCKETS_MS))


def p95_ms(counts: dict[int, int]) -> float | None:
    """The upper edge of the bucket holding the 95th percentile (``inf`` beyond the last)."""
    total = sum(counts.values())
    if total == 0:
        return None
    seen = 0
    for index in sorted(counts):
        seen += counts[index]
        if seen >= 0.95 * total:
            return BUCKETS_MS[index] if index < len(BUCKETS_MS) else float("inf")
    raise AssertionError("unreachable: the counts add up to the total")


@dataclass(frozen=True)
class Measured:
    """One period of an automatic room, as the controller sees it."""

    rate: float
    start_rate: float
    max_rate: float
    latencies: dict[int, int]  # bookings of admitted buyers, per bucket
    admitted: int  # places admitted during the period
    waiting: bool  # someone was still waiting at its end


def next_rate(measured: Measured, target_p95_ms: float) -> tuple[float, str]:
    """The rate for the next period and why, in words for the audit trail."""
    m = measured
    bookings = sum(m.latencies.values())
    p95 = p95_ms(m.latencies)
    if p95 is None or bookings < MIN_SAMPLES:
        return m.rate, f"{bookings} bookings: too few to judge"
    seen = f"p95 {p95:g} ms over {bookings} bookings, target {target_p95_ms:g} ms"
    if p95 > target_p95_ms:
        floor = max(MIN_RATE, FLOOR_SHARE * m.start_rate)
        return max(min(floor, m.rate), m.rate * DECREASE), f"{seen}: decrease"
    if not m.waiting:
        return m.rate, f"{seen}; nobody waiting: hold"
    if bookings < DEMAND_SHARE * m.admitted:
        return m.rate, f"{seen}; {bookings} bookings for {m.admitted} admissions: hold"
    grown = m.rate * FAST_INCREASE if p95 <= target_p95_ms / 2 else m.rate + STEP * m.start_rate
    return min(m.max_rate, grown), f"{seen}: increase"
