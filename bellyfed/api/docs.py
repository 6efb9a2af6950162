"""A readable page of the API's OpenAPI document at ``/api/v1/docs`` (no JavaScript needed)."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app, render_template
from flask.typing import ResponseReturnValue
from markupsafe import Markup, escape

bp = Blueprint("api_docs", __name__)
METHODS = ("get", "put", "post", "patch", "delete")
CODE = re.compile(r"``?([^`]+)``?")


@bp.app_template_filter("inline_code")
def inline_code(text: str) -> Markup:
    """Text from the document with its `code` spans (Markdown or reST) as <code>, escaped."""
    escaped = str(escape(text))  # escaped first: only our own <code> tags are markup
    return Markup(CODE.sub(lambda m: f"<code>{m.group(1)}</code>", escaped))  # noqa: S704


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    """Follow a ``$ref`` into ``components``."""
    while isinstance(node, dict) and "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = spec["components"][kind][name]
    return node


def _schema_fields(spec: dict[str, Any], schema: Any) -> list[dict[str, Any]]:
    """The top-level properties of a schema, as rows for a table."""
    schema = _resolve(spec, schema)
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        resolved = _resolve(spec, prop)
        kind = resolved.get("type", "object")
        if kind == "array":
            item = prop.get("items", {})
            item_name = item["$ref"].rsplit("/", 1)[-1] if "$ref" in item else item.get("type")
            kind = f"array of {item_name}"
        elif "$ref" in prop:
            kind = prop["$ref"].rsplit("/", 1)[-1]
        rows.append({"name": name, "type": kind, "required": name in required,
                     "description": resolved.get("description", "")})  # fmt: skip
    return rows


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation of the document, grouped as the page lists them."""
    found = []
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            success = next((code for code in op["responses"] if code.startswith("2")), "200")
            content = op["responses"][success].get("content", {}).get("application/json", {})
            found.append({
                "method": method.upper(), "path": path, "tag": (op.get("tags") or ["API"])[0],
                "summary": op.get("summary", ""), "description": op.get("description", ""),
                "auth": bool(op.get("security")),
                "parameters": [_resolve(spec, p) for p in op.get("parameters", [])],
                "body": _schema_fields(spec, body["schema"]) if body else [],
                "success": success,
                "response": _schema_fields(spec, content["schema"]) if content else [],
                "errors": sorted(code for code in op["responses"] if code[0] in "345"),
            })  # fmt: skip
    return found


@bp.get("/api/v1/docs")
def docs() -> ResponseReturnValue:
    """The API reference, generated from the same document clients and tests read."""
    spec = current_app.extensions["bellyfed_api"].spec.to_dict()
    return render_template("api/docs.html", spec=spec, operations=operations(spec))
