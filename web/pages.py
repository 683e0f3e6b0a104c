"""The web pages: the booking page at ``/``, the organizer dashboard at ``/admin`` and the
door's scanner at ``/scanner``. Each
is one server-rendered shell, filled in by its script in ``static/`` from the JSON API (no
build step, nothing fetched from elsewhere: the pages' CSP allows only this origin, see
``web/http/protection.py``). The dashboard asks for the admin token on the page itself."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

blp = Blueprint("page", __name__)


@blp.get("/")
def index() -> str:
    """The booking page; the quantity field's limit is the API's."""
    return render_template("index.html", max_quantity=current_app.config["MAX_TICKETS_PER_BOOKING"])


@blp.get("/scanner")
def scanner() -> str:
    """The door staff's scanner (``static/scanner.js``, on ``/api/checkin``), phone-sized."""
    return render_template("scanner.html")


@blp.get("/admin")
def admin() -> str:
    """The organizer dashboard (``static/admin.js``, on ``/api/admin``)."""
    return render_template("admin.html")
