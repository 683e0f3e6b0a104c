"""Every rule error the ledger raises has its HTTP status and code."""

from __future__ import annotations

import pytest
from flask import Flask

import application.errors  # noqa: F401
import domain.errors  # noqa: F401
from application.errors import QueuePassExpiredError, QueuePassRequiredError
from domain.errors import LedgerError, SalesNotOpenError
from web.http.errors import STATUS_AND_CODE, codes_of, register_error_handlers


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


def test_a_use_cases_errors_are_documented_by_their_codes_and_one_the_table_lacks_stops_the_document():
    assert codes_of([SalesNotOpenError, QueuePassExpiredError, QueuePassRequiredError]) == (
        "SALES_NOT_OPEN",
        "QUEUE_PASS_EXPIRED",
        "QUEUE_PASS_REQUIRED",
    )

    class ForgottenError(LedgerError):
        pass

    with pytest.raises(LookupError, match="ForgottenError"):
        codes_of([SalesNotOpenError, ForgottenError])
