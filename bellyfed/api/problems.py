"""Errors as ``application/problem+json`` (RFC 9457): every API error says what went wrong.

``core/web.py`` sends any HTTP error under ``/api/`` here, so a 404 for an unknown URL, a 405, a
413 from the upload limit and a 429 from the rate limiter all answer in the same shape as the
errors the views raise themselves.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

MIMETYPE = "application/problem+json"
# What a client should read when the view gave no description of its own.
DEFAULT_DETAILS = {
    400: "The request has a parameter we can't use.",
    401: "This needs an API token: send Authorization: Bearer <token>.",
    403: "Your token can't change that.",
    404: "There's nothing at this URL.",
    405: "This URL doesn't accept that method.",
    406: "This API only answers in JSON.",
    409: "That conflicts with the current state; fetch it again and retry.",
    413: "That request body is too large.",
    415: "Send the body as JSON (Content-Type: application/json).",
    422: "The body is well-formed but has values we can't accept.",
    429: "Too many requests. Wait for the number of seconds in Retry-After.",
    500: "Something went wrong on our side. Try again; if it keeps happening, tell us.",
    503: "A service behind the API is briefly unavailable. Try again shortly.",
}
# Where webargs found a bad value: a parameter in the URL is a 400, a bad body value a 422.
URL_LOCATIONS = {"query", "querystring", "path", "view_args", "headers", "cookies"}


def problem(
    status: int,
    detail: str | None = None,
    *,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem response with the status's title and a detail a person can act on."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail or DEFAULT_DETAILS.get(status, HTTP_STATUS_CODES.get(status, "Error")),
        "instance": request.path,
    }
    if errors:
        body["errors"] = errors
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="bellyfed"')
    response = current_app.response_class(json.dumps(body), status=status, mimetype=MIMETYPE)
    response.headers.update(headers)
    return response


def from_exception(error: HTTPException) -> Response:
    """The problem for an HTTP error raised anywhere in a request to the API."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if status in (400, 422) and isinstance(messages, dict):  # webargs: which fields and why
        return _validation_problem(status, messages, data.get("headers"))
    detail = error.description if _custom(error) else None
    headers = dict(error.get_headers()) if status in (401, 405, 429) else {}
    headers.pop("Content-Type", None)
    if status == 429:
        detail = f"Too many requests: the limit is {error.description}. Wait for Retry-After."
    return problem(status, detail, headers=headers)


def _validation_problem(
    status: int, messages: dict[str, Any], headers: dict[str, str] | None
) -> Response:
    in_url = status == 400 or any(location in URL_LOCATIONS for location in messages)
    errors = {name: msgs for fields in messages.values() for name, msgs in _flat(fields).items()}
    first_field, first = next(iter(errors.items()))
    detail = f"{first_field}: {first[0] if isinstance(first, list) and first else first}"
    return problem(400 if in_url else 422, detail, errors=errors, headers=headers)


def _flat(fields: Any, prefix: str = "") -> dict[str, Any]:
    """``{"dish": {"0": ["Not a valid integer."]}}`` -> ``{"dish.0": [...]}``."""
    if not isinstance(fields, dict):
        return {prefix or "body": fields}
    flat: dict[str, Any] = {}
    for name, value in fields.items():
        path = f"{prefix}.{name}" if prefix else str(name)
        if isinstance(value, dict):
            flat.update(_flat(value, path))
        else:
            flat[path] = value
    return flat


def _custom(error: HTTPException) -> bool:
    return type(error).description != error.description
