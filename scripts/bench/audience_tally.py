"""The audience's accounting: the workers' tallies merged, and what they add up to.

Kept apart from the users (``scripts/bench/audience_users.py``) so that the counting can be
checked on its own (tests/unit/test_audience_tally.py): a follower that missed the last
change, a tier sold beyond its capacity, a 201 the store does not have, every error by kind.

News latency: a follower that hears availability go from ``previous`` to ``now`` learns
then of every booking whose 201 reported a remaining quantity in ``[now, previous)``; for
each of those changes, the news reached that follower when it heard it less when the
change's buyer received its 201 (on one host every process reads the same clock). The
201 comes after the commit, so this errs short by the answer's way back, never long.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable

from scripts.bench.audience_users import Tally


def merge(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.users += tally.users
        for name in ("errors", "statuses", "news", "last_seen", "streams"):
            getattr(total, name).update(getattr(tally, name))
        for endpoint, values in tally.latencies.items():
            total.latencies.setdefault(endpoint, []).extend(values)
        total.bookings += tally.bookings
        total.waiting_requests += tally.waiting_requests
        total.cpu_seconds += tally.cpu_seconds
        total.wall_seconds = max(total.wall_seconds, tally.wall_seconds)
        total.lag_ms += tally.lag_ms
    return total


def weighted_quantiles(pairs: Iterable[tuple[float, int]], qs: tuple[float, ...] = (0.5, 0.95, 0.99)) -> dict:
    """Quantiles of values each counted ``weight`` times: {"p50", "p95", "p99", "max", "n"}."""
    ordered = sorted((value, weight) for value, weight in pairs if weight > 0)
    n = sum(weight for _, weight in ordered)
    if not n:
        return {"n": 0}
    result: dict = {"n": n, "max": round(ordered[-1][0], 1)}
    for q in qs:
        rank, seen = q * n, 0
        for value, weight in ordered:
            seen += weight
            if seen > rank or seen == n:
                result[f"p{round(q * 100)}"] = round(value, 1)
                break
    return result


def quantiles_ms(seconds: list[float]) -> dict:
    return weighted_quantiles((value * 1000, 1) for value in seconds)


def news_latencies(news: Counter, bookings: list[tuple[int, float, int]]) -> tuple[Counter, int]:
    """Milliseconds from each change to each follower's hearing of it, counted by (change,
    follower); and how many followers' news had no booking to time it by (an increase, or
    changes whose 201s no buyer received)."""
    made = sorted((remaining, answered * 1000) for remaining, answered, _ in bookings)
    remainings = [remaining for remaining, _ in made]
    latencies: Counter = Counter()
    unattributed = 0
    for (previous, now, heard_ms), followers in news.items():
        lo, hi = bisect.bisect_left(remainings, now), bisect.bisect_left(remainings, previous)
        if now >= previous or lo == hi:
            unattributed += followers
        for _, at in made[lo:hi] if now < previous else ():
            latencies[round(heard_ms - at)] += followers
    return latencies, unattributed


def missed(last_seen: Counter, final_available: int) -> int:
    """Followers whose last word of availability was not the store's final figure (or who heard none)."""
    return sum(followers for value, followers in last_seen.items() if value != final_available)


def summary(tally: Tally, books: dict, sale_at: float) -> dict:
    """What the run adds up to, checked against ``books``, the store's and read tables'
    figures of the tier: {"sold", "capacity", "available", "ok"} (``ok``: they agree)."""
    sold_by_201s = sum(quantity for _, _, quantity in tally.bookings)
    last_201 = max((answered for _, answered, _ in tally.bookings), default=sale_at)
    latencies, unattributed = news_latencies(tally.news, tally.bookings)
    lag = sorted(tally.lag_ms)
    return {
        "users": tally.users,
        "bookings": len(tally.bookings),
        "bookings_per_second": round(len(tally.bookings) / max(1e-3, last_201 - sale_at), 1),
        "latency_ms": {endpoint: quantiles_ms(values) for endpoint, values in sorted(tally.latencies.items())},
        "sold_by_201s": sold_by_201s,
        "books": books,
        "sold_out_and_balanced": books["ok"] and books["sold"] == books["capacity"] == sold_by_201s,
        "oversold": max(0, books["sold"] - books["capacity"], sold_by_201s - books["capacity"]),
        "news_ms": weighted_quantiles(latencies.items()),
        "news_unattributed": unattributed,
        "followers_missed_the_end": missed(tally.last_seen, books["available"]),
        "errors": dict(tally.errors),
        "error_count": sum(tally.errors.values()),
        "statuses": dict(sorted(tally.statuses.items())),
        "streams": dict(tally.streams),
        "waiting_requests_per_buyer": {
            "buyers": len(tally.waiting_requests),
            "mean": round(sum(tally.waiting_requests) / max(1, len(tally.waiting_requests)), 2),
            "max": max(tally.waiting_requests, default=0),
        },
        "client_cpu_s": round(tally.cpu_seconds, 1),
        "client_cpu_per_s": round(tally.cpu_seconds / max(1e-3, tally.wall_seconds), 2),
        "client_lag_ms": {"p99": round(lag[int(0.99 * (len(lag) - 1))], 1), "max": round(lag[-1], 1)} if lag else {},
    }
