"""Who the client is behind a load balancer. Each client's rate limit counts by its
address; behind a proxy every connection comes from the proxy, so the proxy's
``X-Forwarded-For`` names the client. Anyone can send that header, so it is believed
only on connections from the proxies listed in ``TRUSTED_PROXIES`` (addresses or
networks, comma-separated), and then only its last entry, the address the proxy itself
saw (werkzeug's ``ProxyFix``, one hop); from anywhere else it is ignored."""

from __future__ import annotations

import ipaddress
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> list[Network]:
    """``TRUSTED_PROXIES``: addresses or networks, comma-separated (ValueError if not)."""
    return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()]


class TrustedProxies:
    """WSGI middleware: ``ProxyFix`` for connections from a trusted proxy, nothing for others."""

    def __init__(self, app: Any, networks: list[Network]) -> None:
        self.app, self.networks = app, networks
        self.fixed = ProxyFix(app, x_for=1, x_proto=1)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return (self.fixed if self.trusts(environ.get("REMOTE_ADDR", "")) else self.app)(environ, start_response)

    def trusts(self, address: str) -> bool:
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:  # a unix socket, or nothing
            return False
        return any(peer in network for network in self.networks)


def install(app: Flask) -> None:
    networks = parse_networks(app.config["TRUSTED_PROXIES"])
    if networks:
        app.wsgi_app = TrustedProxies(app.wsgi_app, networks)  # type: ignore[method-assign]
