"""Rebuild the read tables from the events, without downtime.

    ticketledger rebuild            # build beside the live tables, then swap them in
    ticketledger rebuild --verify   # build beside them and compare row by row; no swap

The store is chosen by the same environment as the app. GET endpoints keep answering
from the live tables until the swap, which is one transaction. Stopped half way (even
with kill -9), it leaves the live tables untouched; just run it again.
Progress: a bar on a terminal, a line per 100,000 events otherwise.
"""

import argparse
import sys
import time

from tqdm import tqdm

from application import BookingLedger
from projections.read_model.rebuild import differences, rebuild


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verify", action="store_true", help="compare a rebuild with the live tables, change nothing")


def run(args: argparse.Namespace) -> int:
    with BookingLedger() as ledger:
        head = ledger.recorder.max_notification_id() or 0
        bar = tqdm(total=head, unit="event", disable=None, file=sys.stderr, mininterval=0.5)
        shown = [0]

        def progress(applied: int) -> None:
            bar.update(applied - shown[0])
            shown[0] = applied
            if bar.disable and applied // 100_000 != (applied - 1) // 100_000:
                print(f"{applied:,} events applied", file=sys.stderr, flush=True)

        started = time.perf_counter()
        if args.verify:
            found = differences(ledger, progress)
            bar.close()
            print("\n".join(found) or "The rebuilt tables equal the live ones, row for row.")
            return 1 if found else 0
        applied = rebuild(ledger, progress)
        bar.close()
    seconds = time.perf_counter() - started
    print(
        f"Rebuilt the read tables: applied {applied} events in {seconds:.2f} s "
        f"({applied / seconds if seconds else 0:,.0f} events/s), then swapped them in."
    )
    return 0
