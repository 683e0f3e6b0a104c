"""A ticket's code as a QR code (``segno``: pure Python, no imaging library), for the booking
page (SVG) and the confirmation email (PNG): error correction M, so 15 % of it may be lost to
a crease or a glare; 4 px a module, the quiet zone included."""

from __future__ import annotations

import io

import segno


def _saved(code: str, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    segno.make(code, error="m").save(out, kind=kind, scale=4, **options)
    return out.getvalue()


def qr_svg(code: str) -> str:
    """An ``<svg>`` element with its namespace, so a page can parse it as SVG (not as HTML)."""
    return _saved(code, "svg", xmldecl=False, svgns=True, nl=False).decode()


def qr_png(code: str) -> bytes:
    return _saved(code, "png")
