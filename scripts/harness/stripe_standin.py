"""A local stand-in for the few Stripe endpoints the ledger calls (this machine cannot reach
Stripe): ``POST /v1/payment_intents``, ``/v1/checkout/sessions`` and ``/v1/refunds``, answered
as Stripe documents them, honouring ``Idempotency-Key`` (the same key: the first answer again)
and recording every request. It also makes the webhook events, signed as Stripe signs them
(``t=…,v1=`` an HMAC-SHA256 of ``t.payload`` computed by the SDK's own ``WebhookSignature``).

A session's ``url`` is the stand-in's own hosted page (``GET /checkout/<id>``): its *Pay* button
marks the session's intent paid, sends the signed ``payment_intent.succeeded`` to
``webhook_url`` (when set) and sends the browser back to the session's ``success_url``, as
Stripe Checkout does with a card that needs no further step."""

from __future__ import annotations

import html
import json
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import stripe

ADDRESS = "127.0.11.40"  # the payments' loopback range


@dataclass
class Seen:
    path: str
    idempotency_key: str | None
    params: dict[str, str]


@dataclass
class StripeStandIn:
    server: ThreadingHTTPServer | None = None
    requests: list[Seen] = field(default_factory=list)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # by idempotency key
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    refusing_refunds: int = 0  # the next this many refunds are refused (400), as Stripe refuses one
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhook_url: str = ""  # where a session paid on the hosted page is reported, signed with:
    webhook_secret: str = ""

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://{ADDRESS}:{self.server.server_address[1]}"

    def start(self) -> StripeStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                session = standin.sessions.get(self.path.removeprefix("/checkout/"))
                if session is None:
                    return self.send_error(404)
                page = standin.hosted_page(session).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if self.path.startswith("/checkout/") and self.path.endswith("/pay"):
                    session = standin.pay(self.path.removeprefix("/checkout/").removesuffix("/pay"))
                    self.send_response(303)
                    self.send_header("Location", session["success_url"])
                    self.send_header("Content-Length", "0")
                    return self.end_headers()
                seen = Seen(self.path, self.headers.get("Idempotency-Key"), dict(parse_qsl(body)))
                status, answer = standin.answer(seen)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((ADDRESS, 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    def answer(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append(seen)
            if seen.idempotency_key in self.answers:
                return 200, self.answers[seen.idempotency_key]
            number = len(self.answers) + 1
            if seen.path == "/v1/payment_intents":
                answer = {
                    "id": f"pi_standin{number}", "object": "payment_intent", "amount": int(seen.params["amount"]),
                    "amount_received": 0, "currency": seen.params["currency"], "status": "requires_payment_method",
                    "client_secret": f"pi_standin{number}_secret_x",
                    "metadata": {k[9:-1]: v for k, v in seen.params.items() if k.startswith("metadata[")},
                }  # fmt: skip
                self.intents[answer["id"]] = answer
            elif seen.path == "/v1/checkout/sessions":
                answer = self.new_session(seen.params, number)
            elif seen.path == "/v1/refunds" and self.refusing_refunds:
                self.refusing_refunds -= 1
                return 400, {"error": {"type": "invalid_request_error", "message": "Refused by the stand-in."}}
            elif seen.path == "/v1/refunds":
                answer = {
                    "id": f"re_standin{number}", "object": "refund", "amount": int(seen.params["amount"]),
                    "payment_intent": seen.params["payment_intent"], "status": "succeeded",
                }  # fmt: skip
            else:
                return 404, {"error": {"type": "invalid_request_error", "message": f"No {seen.path} here."}}
            if seen.idempotency_key:
                self.answers[seen.idempotency_key] = answer
            return 200, answer

    def new_session(self, params: dict[str, str], number: int) -> dict[str, Any]:
        """A Checkout Session of one line, with the intent it will be paid by."""
        prefix = "payment_intent_data[metadata]["
        intent = {
            "id": f"pi_standin{number}", "object": "payment_intent", "status": "requires_payment_method",
            "amount": int(params["line_items[0][price_data][unit_amount]"]) * int(params["line_items[0][quantity]"]),
            "amount_received": 0, "currency": params["line_items[0][price_data][currency]"],
            "client_secret": f"pi_standin{number}_secret_x",
            "metadata": {k[len(prefix) : -1]: v for k, v in params.items() if k.startswith(prefix)},
        }  # fmt: skip
        self.intents[intent["id"]] = intent
        session = {
            "id": f"cs_standin{number}", "object": "checkout.session", "status": "open", "mode": "payment",
            "url": f"{self.url}/checkout/cs_standin{number}", "payment_intent": intent["id"],
            "amount_total": intent["amount"], "currency": intent["currency"],
            "success_url": params["success_url"], "cancel_url": params["cancel_url"],
        }  # fmt: skip
        self.sessions[session["id"]] = session
        return session

    def hosted_page(self, session: dict[str, Any]) -> str:
        amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
        return (
            f'<!doctype html><title>Stripe stand-in checkout</title><link rel="icon" href="data:,">'
            f"<h1>Pay {html.escape(amount)}</h1>"
            f'<form method="post" action="/checkout/{session["id"]}/pay"><button id="pay">Pay</button></form>'
        )

    def pay(self, session_id: str) -> dict[str, Any]:
        """The buyer paid on the hosted page: the intent succeeded, and Stripe says so."""
        with self.lock:
            session = self.sessions[session_id]
            session["status"] = "complete"
        if self.webhook_url:
            payload = self.event(session["payment_intent"])
            headers = {"Content-Type": "application/json", "Stripe-Signature": signed(payload, self.webhook_secret)}
            request = urllib.request.Request(self.webhook_url, payload, headers)
            with urllib.request.urlopen(request, timeout=10) as answer:
                answer.read()
        return session

    def refunded(self, intent_id: str) -> int:
        """What was refunded of ``intent_id``, in minor units: every refund made, each once."""
        with self.lock:
            made = [a for a in self.answers.values() if a["object"] == "refund" and a["payment_intent"] == intent_id]
            return sum(refund["amount"] for refund in made)

    def seen(self, path: str) -> list[Seen]:
        return [request for request in self.requests if request.path == path]

    def event(self, intent_id: str, kind: str = "payment_intent.succeeded", number: int = 1) -> bytes:
        """The webhook body Stripe sends when the intent is paid (or ``kind`` happens to it)."""
        intent = {**self.intents[intent_id]}
        if kind == "payment_intent.succeeded":
            intent.update(status="succeeded", amount_received=intent["amount"])
        event = {
            "id": f"evt_{intent_id}_{number}", "object": "event", "type": kind, "created": int(time.time()),
            "api_version": stripe.api_version, "data": {"object": intent}, "livemode": False,
        }  # fmt: skip
        return json.dumps(event).encode()


def signed(payload: bytes, secret: str) -> str:
    """The ``Stripe-Signature`` header Stripe sends with ``payload``, computed by the SDK."""
    timestamp = int(time.time())
    signature = stripe.WebhookSignature._compute_signature(f"{timestamp}.{payload.decode()}", secret)
    return f"t={timestamp},v1={signature}"
