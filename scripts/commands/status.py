"""Show how far the read tables lag behind the event store.

    ticketledger status          # position, head, lag_events, lag_seconds
    ticketledger status --json   # the same as one JSON object

The position is the last event applied to the read tables, the head the event store's
last event, and lag_seconds the age of the oldest event not yet applied.
"""

import argparse
import json

from application import BookingLedger
from projections import LedgerProjection, Projector, open_view


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object instead of lines")


def run(args: argparse.Namespace) -> int:
    with BookingLedger() as ledger:
        projector = Projector(ledger, open_view(ledger))
        position, head = projector.position, ledger.recorder.max_notification_id() or 0
        status = {
            "projection": LedgerProjection.name,
            "position": position,
            "head": head,
            "lag_events": head - position,
            "lag_seconds": round(projector.lag_seconds(), 3),
        }
    print(json.dumps(status) if args.json else "\n".join(f"{k:<12} {v}" for k, v in status.items()))
    return 0
