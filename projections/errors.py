"""Every error of the read side and the integrations."""

from __future__ import annotations

from domain.errors import LedgerError


class WebhookNotFoundError(LedgerError):
    """Raised when an endpoint id names no registered webhook endpoint."""


class InvalidWebhookError(LedgerError):
    """Raised when an endpoint's URL is not http(s) with a host, or an event type is unknown."""
