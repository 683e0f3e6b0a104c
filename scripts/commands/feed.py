"""Print the integration events (the feed) as JSON lines.

    ticketledger feed                     # every event so far, oldest first
    ticketledger feed --after 1230        # those after a position
    ticketledger feed --follow            # then keep printing new ones until Ctrl-C

Each line is an event exactly as GET /api/feed and webhooks send it; its "position" is
what to pass as --after to carry on from it. The command brings the outbox up to date
itself before it reads (safe beside the projection process: the outbox's position moves
by compare-and-set), so it also works on a SQLite file that no server is running on.
"""

import argparse
import sys
import time

from application import BookingLedger
from projections.integrations.outbox import Outbox
from projections.integrations.store import IntegrationTables

POLL_SECONDS = 0.2
PAGE = 1000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--after", type=int, default=0, help="the last position already seen (default 0)")
    parser.add_argument("--follow", action="store_true", help="keep printing new events until interrupted")


def run(args: argparse.Namespace) -> int:
    with BookingLedger() as ledger:
        outbox = Outbox(ledger, IntegrationTables(ledger))
        after = args.after
        try:
            while True:
                outbox.catch_up()
                page = outbox.tables.notices_after(after, PAGE)
                for notice in page:
                    print(notice.body, flush=True)
                    after = notice.position
                if len(page) < PAGE:
                    if not args.follow:
                        return 0
                    time.sleep(POLL_SECONDS)
        except (KeyboardInterrupt, BrokenPipeError):
            sys.stderr.close()  # the reader went away (head, Ctrl-C): nothing more to say
            return 0
