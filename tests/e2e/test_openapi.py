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
UNDOCUMENTED = {
    "static",
    "page.index",
    "page.admin",
    "page.scanner",
    "api-docs.openapi_json",
    "api-docs.openapi_swagger_ui",
    "docs_assets",
}
# Flask adds these to every rule; they behave the same everywhere.
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def document(tmp_path) -> Iterator[tuple[Any, dict[str, Any]]]:
    """The document of an app with every blueprint on (admin included)."""
    app = create_app(
        {
            "LEDGER_ENV": {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(tmp_path / "ledger.sqlite3"),
            },
            "ADMIN_TOKEN": "token",
            "DEMO_TIERS": "",
        }
    )
    yield app, app.test_client().get("/openapi.json").json
    app.extensions["services"].close()


def test_the_document_is_valid_openapi_3(document):
    _, doc = document
    assert doc["openapi"].startswith("3.")
    validate_spec(doc)


def test_every_route_and_method_is_documented(document):
    app, doc = document
    routes = {
        (rule.rule.replace("<", "{").replace(">", "}"), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in UNDOCUMENTED
        for method in rule.methods - IMPLICIT_METHODS
    }
    documented = {(path, method) for path, item in doc["paths"].items() for method in item if method != "parameters"}
    # with the waiting room's 10, the door's 5, orders' 2, events' 3, payments' 6, staff's 15, devices' 3,
    # the waiting list's 3, staff's cancel of a booking 1, a tier's price 1
    assert len(routes) == 78
    assert routes == documented


def test_every_body_has_an_example_and_every_error_the_error_schema(document):
    """A 304 alone has no body."""
    _, doc = document
    for path, method, operation in operations(doc):
        bodies = {
            "request": operation.get("requestBody", {"content": {"-": {"example": "no body"}}}),
            **operation["responses"],
        }
        assert all("content" in body for status, body in bodies.items() if status != "304"), (method, path)
        for status, body in bodies.items():
            for content in body.get("content", {}).values():
                assert "example" in content or content.get("examples"), (method, path, status)
            if status != "request" and int(status) >= 400:
                assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        assert ("security" in operation) == path.startswith(("/api/admin", "/api/feed")), path


def objects(schema: dict[str, Any], components: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every object schema in ``schema``, through references, arrays and properties."""
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    if schema.get("type") == "array":
        yield from objects(schema["items"], components)
    elif schema.get("type") == "object":
        yield schema
        for prop in schema.get("properties", {}).values():
            yield from objects(prop, components)


def test_every_field_of_every_answer_is_required(document):
    """The API always sends every field (null where it may be none): a generated client's
    models then need no "maybe unset" fields."""
    _, doc = document
    seen = set()
    for path, method, operation in operations(doc):
        for status, response in operation["responses"].items():
            for content in response.get("content", {}).values():
                for schema in objects(content.get("schema", {}), doc["components"]["schemas"]):
                    assert sorted(schema.get("required", [])) == sorted(schema["properties"]), (method, path, status)
                    seen.add(tuple(sorted(schema["properties"])))
    assert len(seen) > 10


CACHEABLE = ("/api/tickets", "/api/queue/frontier")


def test_every_answer_documents_its_headers(document):
    """The request id and Cache-Control on every answer (the id as a parameter too); the rate
    limit's headers on every answer of a rate-limited operation but a 415; Retry-After on every
    503, and on the admin endpoints' 429 (the failed sign-in limit) only that; the ETag on the
    tier list's and the waiting room frontier's 200 and 304, which If-None-Match asks for."""
    _, doc = document
    limited, tagged = set(), set()
    for path, method, operation in operations(doc):
        assert "X-Request-ID" in {parameter["name"] for parameter in operation["parameters"]}, (method, path)
        for status, response in operation["responses"].items():
            headers = response["headers"]
            assert headers["X-Request-ID"]["required"] and headers["Cache-Control"]["required"], (method, path, status)
            if "ETag" in headers:
                tagged.add((method, path, status))
            if path.startswith(("/api/admin", "/api/staff")) and status == "429":
                assert set(headers) == {"X-Request-ID", "Cache-Control", "Retry-After"}, (method, path)
            elif (
                "429" in operation["responses"]
                and status != "415"
                and not path.startswith(("/api/admin", "/api/staff"))
            ):
                assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"} <= set(
                    headers
                )
                limited.add(path)
            elif status == "503":
                assert set(headers) == {"X-Request-ID", "Cache-Control", "Retry-After"}
            else:
                assert "X-RateLimit-Limit" not in headers, (method, path, status)
    assert tagged == {("get", path, status) for path in CACHEABLE for status in ("200", "304")}
    assert all("If-None-Match" in {p["name"] for p in doc["paths"][path]["get"]["parameters"]} for path in CACHEABLE)
    assert limited == {
        "/api/tickets/book",
        "/api/tickets/hold",
        "/api/holds/{hold_id}/confirm",
        "/api/holds/{hold_id}/release",
        "/api/orders",
        "/api/tickets/waiting-list",
        "/api/tickets/waiting-list/leave",
    }


def test_the_stream_is_documented_as_text_a_generated_client_can_take(document):
    _, doc = document
    content = doc["paths"]["/api/tickets/stream"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/event-stream"]
    assert content["text/event-stream"]["schema"]["type"] == "string"
    assert content["text/event-stream"]["example"].startswith("retry: 1000\n\ndata: [{")


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
    schema = {
        **doc["paths"]["/api/tickets/book"]["post"]["requestBody"]["content"]["application/json"]["schema"],
        "components": doc["components"],
    }
    assert not OAS30Validator(schema).is_valid({"userId": "alice", "tier": "VIP", "quantity": "2"})


def test_a_new_user_id_is_documented_with_its_rule_and_a_pattern_that_enforces_it(document):
    _, doc = document
    user_id = doc["components"]["schemas"]["BookRequest"]["properties"]["userId"]
    assert "NFC" in user_id["description"] and "`/`" in user_id["description"]
    assert (user_id["minLength"], user_id["maxLength"]) == (1, 64)
    checker = OAS30Validator(user_id)
    assert checker.is_valid("Zoë") and not checker.is_valid("\u202eecila") and not checker.is_valid("a/b")
