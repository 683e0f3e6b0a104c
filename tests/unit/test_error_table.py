"""Every rule error the ledger raises has its HTTP status and code."""

from __future__ import annotations

from flask import Flask

import application.errors  # noqa: F401
import domain.errors  # noqa: F401
from domain.errors import LedgerError
from web.http.errors import STATUS_AND_CODE, register_error_handlers


def subclasses(cls: type) -> set[type]:
    return {sub for direct in cls.__subclasses__() for sub in {direct, *subclasses(direct)}}


def test_every_ledger_error_of_the_domain_and_application_is_mapped():
    ours = {cls for cls in subclasses(LedgerError) if cls.__module__.startswith(("domain.", "application."))}
    assert len(ours) > 15
    assert [cls for cls in ours if not any(c in STATUS_AND_CODE for c in cls.__mro__)] == []


def test_an_unmapped_ledger_error_is_logged_and_answered_as_our_own_fault(caplog):
    class ForgottenError(LedgerError):
        pass

    app = Flask(__name__)
    register_error_handlers(app)
    app.add_url_rule("/forgotten", "forgotten", lambda: (_ for _ in ()).throw(ForgottenError("not in the table")))
    response = app.test_client().get("/forgotten")
    assert (response.status_code, response.json["error"]["code"]) == (500, "INTERNAL_ERROR")
    assert "not in the table" in caplog.text
