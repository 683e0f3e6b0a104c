"""The OpenAPI document describes every route, is valid OpenAPI 3, and every example in it
(request, response, error, parameter, schema property) matches the schema beside it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate as validate_spec

from web import create_app

# Not API endpoints: Flask's static files, the web page, the document itself and Swagger UI with its assets.
UNDOCUMENTED = {"static", "page.index", "api-docs.openapi_json", "api-docs.openapi_swagger_ui", "docs_assets"}
# Flask adds these to every rule; they behave the same everywhere.
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def document(tmp_path) -> Iterator[tuple[Any, dict[str, Any]]]:
    """The document of an app with every blueprint on (admin included)."""
    app = create_app({"LEDGER_ENV": {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                     "SQLITE_DBNAME": str(tmp_path / "ledger.sqlite3")},
                      "ADMIN_TOKEN": "token", "DEMO_TIERS": ""})
    yield app, app.test_client().get("/openapi.json").json
    app.extensions["ledger"].close()


def test_the_document_is_valid_openapi_3(document):
    _, doc = document
    assert doc["openapi"].startswith("3.")
    validate_spec(doc)


def test_every_route_and_method_is_documented(document):
    app, doc = document
    routes = {
        (rule.rule.replace("<", "{").replace(">", "}"), method.lower())
        for rule in app.url_map.iter_rules() if rule.endpoint not in UNDOCUMENTED
        for method in rule.methods - IMPLICIT_METHODS
    }
    documented = {(path, method) for path, item in doc["paths"].items() for method in item if method != "parameters"}
    assert len(routes) == 26  # 17, and the waiting room's 4 and its administration's 5
    assert routes == documented


def test_every_body_has_an_example_and_every_error_the_error_schema(document):
    _, doc = document
    for path, method, operation in operations(doc):
        bodies = {"request": operation.get("requestBody", {"content": {"-": {"example": "no body"}}}),
                  **operation["responses"]}
        for status, body in bodies.items():
            for content in body["content"].values():
                assert "example" in content or content.get("examples"), (method, path, status)
            if status != "request" and int(status) >= 400:
                assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        assert ("security" in operation) == path.startswith("/api/admin"), path


def examples(doc: dict[str, Any]) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """Every (where, example, schema) in the document."""
    for path, method, operation in operations(doc):
        for parameter in operation.get("parameters", []):
            if "example" in parameter:
                yield f"{method} {path} {parameter['name']}", parameter["example"], parameter["schema"]
        bodies = [("request", operation.get("requestBody", {}))]
        bodies += [(status, response) for status, response in operation["responses"].items()]
        for where, body in bodies:
            for content in body.get("content", {}).values():
                if "example" in content:
                    yield f"{method} {path} {where}", content["example"], content.get("schema", {"type": "string"})
                for name, example in content.get("examples", {}).items():
                    yield f"{method} {path} {where} {name}", example["value"], content["schema"]
    for name, schema in doc["components"]["schemas"].items():
        for field, prop in schema.get("properties", {}).items():
            if "example" in prop:
                yield f"{name}.{field}", prop["example"], prop


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method, operation


def test_every_example_matches_its_schema(document):
    _, doc = document
    found = list(examples(doc))
    assert len(found) > 80
    for where, example, schema in found:
        # The components travel with the schema, so its "#/components/..." references resolve.
        validator = OAS30Validator({**schema, "components": doc["components"]}, format_checker=oas30_format_checker)
        errors = [error.message for error in validator.iter_errors(example)]
        assert not errors, (where, errors)


def test_an_example_that_breaks_its_schema_is_caught(document):
    _, doc = document
    schema = {**doc["paths"]["/api/tickets/book"]["post"]["requestBody"]["content"]["application/json"]["schema"],
              "components": doc["components"]}
    assert not OAS30Validator(schema).is_valid({"userId": "alice", "tier": "VIP", "quantity": "2"})
