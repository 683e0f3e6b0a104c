"""The on-sale floods of ``make bench``: 2,500 buyers arriving within 4 s for 400 tickets with
the waiting room at 150 admissions a second, and 10,000 within 10 s for 1,000 tickets at
300 a second; each with the room on (buyers follow their ticket's stream, as the page
does), with it off (everyone books at once), and on the baseline (``onsale.py``).
"""

from __future__ import annotations

from typing import Any

from scripts.bench import onsale

FLOODS = (("2500", "4", "400", "150"), ("10000", "10", "1000", "300"))


def runs() -> list[dict[str, Any]]:
    results = []
    for buyers, seconds, tickets, rate in FLOODS:
        results += onsale.bench(
            onsale.arguments(
                [
                    "--buyers",
                    buyers,
                    "--seconds",
                    seconds,
                    "--tickets",
                    tickets,
                    "--rate",
                    rate,
                    "--modes",
                    "room,direct,baseline",
                ]
            )
        )
    return results


def table(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| buyers (room's rate) | mode | tickets sold by 201s, recorded, capacity | 5xx | "
        "booking p50/p95 ms | join p50/p95 ms | sold out after | waiting buyers told sold out, p50/p95 | "
        "joins out of order |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rate = r["books"].get("room", {}).get("rate") if isinstance(r["books"], dict) else None
        recorded = r["books"].get("sold_events", r["books"].get("sold"))
        heard = r.get("sold_out_heard_ms") or {}
        lines.append(
            f"| {r['buyers']:,}" + (f" ({rate:g}/s)" if rate else "") + f" | {r['mode']} | "
            f"{r['sold_by_clients']:,}, {recorded:,}, {r['capacity']:,} | {r['server_errors']} | "
            f"{quantiles(r['latency_ms'].get('book', {}))} | {quantiles(r['latency_ms'].get('join', {}))} | "
            f"{r['sold_out_after_s']} s | {quantiles(heard)} | "
            f"{r['out_of_order_pairs']} of {r['ordered_pairs']:,} pairs |"
        )
    lines.append(
        "\nBooking: from a buyer's first try to its final answer, as the buyer saw it (with the room: "
        "admitted buyers only). Sold out after: seconds from the first arrival to the 201 of the last "
        "ticket; with the room at a fixed rate, not sooner than the buyers it takes, divided by the rate."
    )
    return lines


def quantiles(q: dict) -> str:
    return f"{q['p50']:,.0f}/{q['p95']:,.0f}" if q.get("n") else "—"
