"""The web page at ``/``: one server-rendered shell, filled in by ``static/app.js`` from
the JSON API (no build step, nothing fetched from elsewhere: the page's CSP allows only
this origin, see ``web/protection.py``)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

blp = Blueprint("page", __name__)


@blp.get("/")
def index() -> str:
    """The booking page; the quantity field's limit is the API's."""
    return render_template("index.html", max_quantity=current_app.config["MAX_TICKETS_PER_BOOKING"])
