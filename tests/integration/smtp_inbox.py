"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it accepts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller

from projections.integrations.emails import EmailSettings
from scripts.harness.processes import free_port


class Inbox:
    """aiosmtpd's handler: every message, parsed, in the order the server accepted them."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 OK"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [m["Message-ID"] for m in self.messages]


@contextmanager
def smtp_inbox() -> Iterator[tuple[Inbox, EmailSettings]]:
    """An SMTP server and the settings that send to it (plain SMTP, addresses at example.test)."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (
            inbox,
            EmailSettings(
                host="127.0.0.1",
                port=port,
                security="none",
                sender="tickets@ledger.test",
                recipient="{user_id}@example.test",
                timeout=5.0,
                poll_interval=0.01,
            ),
        )
    finally:
        controller.stop()
