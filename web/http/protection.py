"""What every response carries and what every request must respect: security headers,
a CORS allow-list, and a body size limit (413 before anything is parsed)."""

from __future__ import annotations

from flask import Flask, Response, request

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'"
)
# The web pages (web/pages.py): their own scripts, style sheets and icon, and calls to this API.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGES = ("/", "/admin", "/scanner")


def install(app: Flask) -> None:
    """``MAX_CONTENT_LENGTH`` is Flask's own limit; ``CORS_ORIGINS`` is a comma-separated
    allow-list (empty: no cross-origin access)."""
    allowed = {o.strip() for o in str(app.config["CORS_ORIGINS"]).split(",") if o.strip()}

    @app.after_request
    def protect(response: Response) -> Response:
        # One pass over the headers, not one per security header (``setdefault``): this
        # runs on every answer (docs/performance.md).
        present = {name.lower() for name in response.headers.keys()}
        response.headers.extend(
            [(name, value) for name, value in SECURITY_HEADERS.items() if name.lower() not in present]
        )
        if request.path.startswith("/docs"):  # Swagger UI: own scripts, styles and one inline script
            response.headers["Content-Security-Policy"] = DOCS_POLICY
        elif request.path in PAGES:
            response.headers["Content-Security-Policy"] = PAGE_POLICY
        origin = request.headers.get("Origin")
        if origin and origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Headers"] = "Content-Type, Idempotency-Key, Authorization"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Vary"] = "Origin"
        return response
