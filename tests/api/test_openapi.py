"""The OpenAPI document: valid, complete (every API route is in it) and readable at /api/v1/docs."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

API_DOC_ROUTES = {"/api/v1/openapi.json", "/api/v1/docs"}


def document(api) -> dict:
    response = api.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def api_routes(app) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route the app serves under /api/v1."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.rule in API_DOC_ROUTES:
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        routes |= {(m.lower(), path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_the_document_is_valid_openapi(api):
    spec = document(api)
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_every_api_route_is_documented_and_nothing_else(api, app):
    spec = document(api)
    documented = {(method, path) for path, item in spec["paths"].items() for method in item
                  if method in {"get", "put", "post", "patch", "delete"}}  # fmt: skip
    assert api_routes(app) == documented


def test_every_operation_documents_its_errors_and_writes_need_a_token(api):
    for path, item in document(api)["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            assert "429" in responses, (method, path)
            problem = responses["429"]["content"]
            assert "application/problem+json" in problem, (method, path)
            if method != "get":
                assert operation.get("security") == [{"bearerAuth": []}], (method, path)
                assert "401" in responses, (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)


def test_the_docs_page_lists_every_operation(api):
    spec = document(api)
    page = api.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for path, item in spec["paths"].items():
        for method in item:
            if method in {"get", "put", "post", "patch", "delete"}:
                assert f"{method.upper()} {path}" in html, (method, path)


def test_the_docs_page_shows_code_as_code_and_escapes_the_rest(api):
    html = api.get("/api/v1/docs").get_data(as_text=True)
    assert "<code>Authorization: Bearer &lt;token&gt;</code>" in html
    assert "`" not in html
