"""Manage webhook endpoints: list, add, pause, resume, replay.

    ticketledger webhooks list
    ticketledger webhooks add https://crm.example.com/hooks --events booking.confirmed,booking.cancelled
    ticketledger webhooks pause we_4f9c...      # stop delivering; events queue up
    ticketledger webhooks resume we_4f9c...     # deliver from where it stopped
    ticketledger webhooks replay we_4f9c... --after 0   # deliver everything again
    ticketledger webhooks deliveries we_4f9c... --limit 20

add prints the endpoint's id and its secret (shown only then; --secret to choose it).
A new endpoint gets the events recorded from now on. Delivery runs in the projection
process (ticketledger projections); these commands only change the registry.
"""

import argparse
import json
import sys
from dataclasses import asdict

from application import BookingLedger
from projections.integrations.store import IntegrationTables
from projections.integrations.webhooks import (
    Endpoint,
    InvalidWebhookError,
    WebhookEndpoints,
    WebhookNotFoundError,
)

COLUMNS = [("endpoint_id", 35), ("status", 8), ("position", 10), ("event_types", 24), ("url", 0)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every endpoint, its status and position")
    listing.add_argument("--json", action="store_true", help="JSON Lines instead of a table")
    add = actions.add_parser("add", help="register an endpoint")
    add.add_argument("url")
    add.add_argument("--events", help="comma-separated event types (default: every type)")
    add.add_argument("--secret", help="the signing secret (default: a new random one)")
    add.add_argument("--description", default="")
    for action, text in (("pause", "stop delivering"), ("resume", "deliver again from where it stopped")):
        actions.add_parser(action, help=text).add_argument("endpoint_id")
    replay = actions.add_parser("replay", help="deliver every event after a position again")
    replay.add_argument("endpoint_id")
    replay.add_argument("--after", type=int, required=True, help="feed position (0: the whole history)")
    deliveries = actions.add_parser("deliveries", help="the latest delivery attempts, newest first")
    deliveries.add_argument("endpoint_id")
    deliveries.add_argument("--limit", type=int, default=20)


def run(args: argparse.Namespace) -> int:
    with BookingLedger() as ledger:
        endpoints = WebhookEndpoints(IntegrationTables(ledger))
        try:
            return act(endpoints, args)
        except (WebhookNotFoundError, InvalidWebhookError) as error:
            print(error, file=sys.stderr)
            return 1


def act(endpoints: WebhookEndpoints, args: argparse.Namespace) -> int:
    if args.action == "list":
        print_endpoints(endpoints.list(), args.json)
    elif args.action == "add":
        types = args.events.split(",") if args.events else None
        endpoint = endpoints.add(args.url, types, args.secret, args.description)
        print(f"endpoint  {endpoint.endpoint_id}\nsecret    {endpoint.secret}\nposition  {endpoint.position}")
    elif args.action == "replay":
        print_endpoints([endpoints.replay(args.endpoint_id, args.after)])
    elif args.action == "deliveries":
        for attempt in endpoints.deliveries(args.endpoint_id, args.limit):
            print(json.dumps(asdict(attempt), default=str))
    else:
        print_endpoints([getattr(endpoints, args.action)(args.endpoint_id)])
    return 0


def print_endpoints(found: list[Endpoint], as_json: bool = False) -> None:
    rows = [{**asdict(e), "event_types": ",".join(e.event_types or ["*"])} for e in found]
    for row in rows:
        del row["secret"]
    if as_json:
        for row in rows:
            print(json.dumps(row, default=str))
        return
    print("  ".join(f"{name:<{width}}" for name, width in COLUMNS).rstrip())
    for row in rows:
        print("  ".join(f"{row[name]!s:<{width}}" for name, width in COLUMNS).rstrip())
