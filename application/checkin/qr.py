"""A ticket's code as a QR code (``segno``: pure Python, no imaging library), for the booking
page (SVG) and the confirmation email (PNG): error correction M, so 15 % of it may be lost to
a crease or a glare; 4 px a module, the quiet zone included. ``qr_rows`` gives a code's
modules for a page that draws it itself (the dashboard's authenticator key: its pages take
no image from data: URLs, and put nothing from the server on the page as markup)."""

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


def qr_rows(text: str) -> list[str]:
    """The QR code's modules, row by row, ``1`` dark and ``0`` light, without the quiet zone."""
    return ["".join("1" if module else "0" for module in row) for row in segno.make(text, error="m").matrix]
