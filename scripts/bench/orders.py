"""What an order across two hot tiers costs against a single booking (``make bench``, part
``orders``): on ours, bookings of one ticket of VIP, then orders of one VIP and one GA ticket
(``POST /api/orders``), each at 16 and 64 connections, interleaved; the books must balance
after each. An order is decided in the same group-commit batches as bookings: it reads two
tiers, takes both tiers' turns, and records two tier events, two bookings and the order in
the batch's one recording."""

from __future__ import annotations

from collections.abc import Callable

from scripts.bench import wrk

LOADS = (16, 64)


def runs(url: str, seconds: int, books: Callable[[], dict]) -> list[dict]:
    results = []
    for connections in LOADS:
        for kind, env in (
            ("booking", {"BENCH_TIERS": "VIP"}),
            ("order", {"BENCH_BODY_MODE": "order", "BENCH_TIERS": "VIP,GA", "BENCH_PATH": "/api/orders"}),
        ):
            path = "/api/orders" if kind == "order" else "/api/tickets/book"
            run = wrk.run_wrk(url + path, connections, seconds, env=env)
            run.update(kind=kind, books=books())
            created = run["statuses"].get("201", 0)
            run["created_per_second"] = created / (run["duration_us"] / 1e6)
            print(
                f"{kind} at {connections}: {run['created_per_second']:.0f}/s 201, "
                f"p50 {run['latency_ms']['p50']:.1f} ms, p95 {run['latency_ms']['p95']:.1f} ms",
                flush=True,
            )
            results.append(run)
    return results


def table(results: list[dict]) -> list[str]:
    lines = [
        "| connections | bookings /s | p95 | orders /s (VIP + GA) | p95 | tickets /s (bookings, orders) | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for connections in LOADS:
        booking, order = (
            next(r for r in results if r["connections"] == connections and r["kind"] == k) for k in ("booking", "order")
        )
        b, o = booking["created_per_second"], order["created_per_second"]
        lines.append(
            f"| {connections} | {b:,.0f} | {booking['latency_ms']['p95']:.0f} ms | {o:,.0f} | "
            f"{order['latency_ms']['p95']:.0f} ms | {b:,.0f}, {2 * o:,.0f} | {o / b:.2f} |"
        )
    return lines
