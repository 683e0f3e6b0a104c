"""The door scanner page's answer time, as a door person sees it, on a quiet and on a loaded server.

    python -m scripts.bench.door_page                   # 200 tickets, 100 bookings/s, 300 followers
    python -m scripts.bench.door_page --tickets 40 --rate 50 --followers 100

Our server runs as the other benchmarks run it (gunicorn with the project's settings, the
projection process, PostgreSQL in a schema of its own). A door device is registered for an
event through the admin API and ``--tickets`` tickets are issued; headless Chromium opens the
device's pairing link at a phone's size (390×844) and scans each code as a door person does:
the code typed into the field, the form submitted. The time is taken inside the page, from the
submit to the answer shown (``performance.now()`` and a ``MutationObserver`` on the answer),
not by selenium's round trips. Half the codes are scanned on the quiet server, half while a
sale's load runs: bookings of a hot tier at a steady open-loop rate (``open_loop.py``, a
process of its own) and browsers following the tier list's live stream (``crowd.py``). Each
half also scans some codes a second time (already in) and a few forged ones. Prints, and writes
to var/bench/door-<time>.json, p50/p95/p99/max of the answer time per half, the bookings' rate
achieved, and the host's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from scripts.bench.crowd import Crowd
from scripts.bench.kit import OURS_ENV, OURS_WORKERS, ROOT, Server, fresh_schema
from scripts.harness.processes import call, free_port

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PHONE = (390, 844)
SCHEMA = "bench_door"
HOT_TIER = "HOT"
EVENT, DOOR_TIER = "door", "DOOR"
BOOKING_CHUNK = 10  # tickets issued per booking
REPEATS_PER_HALF, FORGED_PER_HALF = 10, 5
WARM_SECONDS = 3.0  # the load's first seconds, before the scans start

# One scan inside the page: the code typed in, the form submitted, and the time until the
# answer element changes, with which answer it is. The answer is cleared first: a repeat's
# text may equal the last one's.
SCAN_IN_PAGE = """
const [text, done] = arguments;
const verdict = document.getElementById("verdict"), code = document.getElementById("code");
verdict.textContent = "";
const observer = new MutationObserver(() => {
  if (!verdict.textContent) return;
  observer.disconnect();
  done({ms: performance.now() - started, answer: verdict.dataset.answer, text: verdict.textContent});
});
observer.observe(verdict, {childList: true, characterData: true, subtree: true});
code.value = text;
const started = performance.now();
document.getElementById("scan-form").requestSubmit();
"""


def open_phone_browser() -> WebDriver:
    """Headless Chromium at a phone's size."""
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={PHONE[0]},{PHONE[1]}")
    browser = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    browser.set_script_timeout(30)
    return browser


def admin(url: str, token: str, path: str, body: dict[str, Any] | None = None) -> Any:
    answer = call(url + path, body, {"Authorization": f"Bearer {token}"})
    if answer.status not in (200, 201):
        raise RuntimeError(f"{path}: {answer.status} {answer.body}")
    return answer.body


def issue_tickets(url: str, count: int) -> list[str]:
    """``count`` ticket codes of the door's event, booked ``BOOKING_CHUNK`` at a time."""
    found: list[str] = []
    for n in range(0, count, BOOKING_CHUNK):
        quantity = min(BOOKING_CHUNK, count - n)
        booked = call(url + "/api/tickets/book", {"userId": f"door-fan-{n}", "tier": DOOR_TIER, "quantity": quantity})
        if booked.status != 201:
            raise RuntimeError(f"booking: {booked.status} {booked.body}")
        found += [t["code"] for t in call(f"{url}/api/bookings/{booked.body['bookingId']}/tickets").body]
    return found


def plan(codes: list[str]) -> list[tuple[str, str]]:
    """The scans of one half: each code once, some again (already in), a few forged, mixed in
    as a door sees them; each with the answer it must get."""
    scans = [(code, "admitted") for code in codes]
    for i, code in enumerate(codes[:REPEATS_PER_HALF]):
        scans.insert(len(codes) // 2 + 2 * i, (code, "already-in"))
    for i in range(FORGED_PER_HALF):
        forged = codes[i % len(codes)][:-6] + secrets.token_hex(3)  # a ticket's code with its end changed
        scans.insert((i + 1) * len(scans) // (FORGED_PER_HALF + 1), (forged, "not-valid"))
    return scans


def scan_all(browser: WebDriver, scans: list[tuple[str, str]]) -> dict[str, Any]:
    """Each scan in the page; its answer time, and any answer that was not the one expected."""
    times: list[float] = []
    wrong: list[dict[str, str]] = []
    for code, expected in scans:
        seen = browser.execute_async_script(SCAN_IN_PAGE, code)
        times.append(seen["ms"])
        if seen["answer"] != expected:
            wrong.append({"expected": expected, "answer": seen["answer"], "text": seen["text"]})
    return {"scans": len(times), **answer_times(times), "wrong": wrong}


def answer_times(samples: list[float]) -> dict[str, Any]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "ms": {"p50": round(q[49], 1), "p95": round(q[94], 1), "p99": round(q[98], 1), "max": round(max(samples), 1)}
    }


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


@contextmanager
def sale_load(url: str, rate: float, seconds: float, followers: int) -> Iterator[dict[str, Any]]:
    """A sale's load for the block: ``followers`` streams of the tier list and bookings of the
    hot tier at ``rate`` a second for ``seconds``; what the load saw is filled in on exit."""
    seen: dict[str, Any] = {}
    with Crowd(url + "/api/tickets/stream", followers) as crowd:
        crowd.measure()
        bookings = subprocess.Popen(
            [sys.executable, "-m", "scripts.bench.open_loop", url, "--rate", str(rate), "--seconds", str(seconds)]
            + ["--tier", HOT_TIER],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(WARM_SECONDS)
        yield seen
        seen["load_average"] = load_average()
        out, _ = bookings.communicate(timeout=seconds + 120)
        seen["bookings"] = json.loads(out.strip().splitlines()[-1])
        seen["followers"] = crowd.finish()


def bench(tickets: int, rate: float, seconds: float, followers: int, schema: str = SCHEMA) -> dict[str, Any]:
    """The quiet half, then the loaded half, on one server and one paired browser, its
    events in PostgreSQL's ``schema`` (made afresh)."""
    token = secrets.token_hex(16)
    env = {
        **OURS_ENV,
        "POSTGRES_SCHEMA": schema,
        "DEMO_TIERS": f"{HOT_TIER}:50.00:10000000",
        "ADMIN_TOKEN": token,
        "ADMIN_AUTH_RATE_LIMIT": "",
        "SCANNER_TOKEN": secrets.token_hex(16),
    }
    fresh_schema(schema)
    with Server(None, env, free_port(), OURS_WORKERS).with_projections(env) as server:
        url = server.url
        event = {
            "eventId": EVENT,
            "name": "Door bench",
            "tiers": [{"tier": DOOR_TIER, "price": "5.00", "capacity": tickets}],
        }
        admin(url, token, "/api/admin/events", event)
        device = admin(url, token, f"/api/admin/events/{EVENT}/devices", {"name": "Bench phone", "gate": "bench-1"})
        codes = issue_tickets(url, tickets)
        browser = open_phone_browser()
        try:
            browser.get(device["pairingUrl"])
            deadline = time.monotonic() + 20
            while browser.execute_script("return document.getElementById('pairing').dataset.state") != "paired":
                if time.monotonic() > deadline:
                    raise RuntimeError("the scanner page did not pair")
                time.sleep(0.1)
            half = len(codes) // 2
            quiet = {**scan_all(browser, plan(codes[:half])), "load_average": load_average()}
            with sale_load(url, rate, seconds, followers) as load:
                began = time.monotonic()
                loaded = scan_all(browser, plan(codes[half:]))
                loaded["within_load"] = WARM_SECONDS + time.monotonic() - began < seconds
            loaded.update(load)
        finally:
            browser.quit()
    return {
        "tickets": tickets,
        "rate": rate,
        "load_seconds": seconds,
        "followers": followers,
        "quiet": quiet,
        "loaded": loaded,
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        "| server | scans | p50 ms | p95 ms | p99 ms | max ms | bookings/s asked → done (p95 ms) "
        "| followers | load average |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("quiet", "loaded"):
        half = result[name]
        ms = half["ms"]
        booked = half.get("bookings")
        rate = (
            f"{booked['rate']:,.0f} → {booked['achieved']:,.0f} ({booked['latency_ms']['p95']:,.0f})" if booked else "—"
        )
        following = half["followers"]["opened"] if "followers" in half else "—"
        lines.append(
            f"| {name} | {half['scans']} | {ms['p50']} | {ms['p95']} | {ms['p99']} | {ms['max']} | {rate} "
            f"| {following} | {' '.join(map(str, half['load_average']))} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=200, help="issued, half scanned quiet, half loaded")
    parser.add_argument("--rate", type=float, default=100, help="hot-tier bookings a second while loaded")
    parser.add_argument("--seconds", type=float, default=30, help="how long the load runs (the scans within it)")
    parser.add_argument("--followers", type=int, default=300, help="browsers following the tier list while loaded")
    args = parser.parse_args(argv)
    result = bench(args.tickets, args.rate, args.seconds, args.followers)
    out = ROOT / "var" / "bench" / f"door-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(table(result))
    print(f"written to {out}")
    wrong = result["quiet"]["wrong"] + result["loaded"]["wrong"]
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
