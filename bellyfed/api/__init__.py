"""The JSON API, v1: what the web pages show, for apps and partners, on the same queries.

Built with flask-smorest: each resource module is a ``flask_smorest.Blueprint`` whose routes,
parameters and schemas generate the OpenAPI document at ``/api/v1/openapi.json``, so the
document cannot drift from the code. Errors are problem documents (``problems.py``), writes need
a bearer token (``auth.py``), public GETs carry ETags and are cached (``cache.py``), and every
request is rate limited (``limits.py``) and counted in the analytics pipeline.
"""

from __future__ import annotations

import importlib

from flask import Flask, Response, g, request
from flask_smorest import Api, Blueprint

from bellyfed.analytics.events import record

RESOURCES = ("restaurants", "catalog", "leaderboards", "reviews", "rankings", "photos", "votes")
PREFIX = "/api/v1"
DESCRIPTION = """\
Restaurants, dishes, city leaderboards and reviews from Bellyfed, the dish-first restaurant guide.

Reads are public. Writes act for a diner and need one of their API tokens (create one in
account settings) as `Authorization: Bearer <token>`; cookies are never accepted.
Errors are `application/problem+json` documents (RFC 9457) whose `detail` says what to fix.
Public GET responses carry an `ETag`: send it back in `If-None-Match` to get a `304`.
Requests are rate limited per token and per address (`X-RateLimit-*` headers; `429` with
`Retry-After` when over).
"""


class BellyfedApi(Api):
    """flask-smorest's Api without its app-wide error handler: ``core/web.py`` routes errors
    under ``/api/`` to ``problems.py`` and keeps the HTML error pages for the site."""

    # No catch-all "default" response in the document: every status a view can give is listed
    # with the problem schema (``schemas.errors``), so the fuzzer holds us to exactly those.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self) -> None:
        pass


def init_app(app: Flask) -> None:
    """Create the API for this app: the OpenAPI document, resources, limits, CSRF exemption."""
    from bellyfed.api import auth, limits
    from bellyfed.core.web import csrf

    app.config.setdefault("API_TITLE", "Bellyfed API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = BellyfedApi(
        app,
        spec_kwargs={
            "info": {"description": DESCRIPTION},
            "servers": [{"url": "/", "description": "This server"}],
        },
    )
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "An API token (bf_…)."}
    )
    blueprints: list[Blueprint] = [
        importlib.import_module(f"bellyfed.api.{name}").blp for name in RESOURCES
    ]
    for blueprint in blueprints:
        if not getattr(blueprint, "bellyfed_ready", False):  # once per process, not per app
            blueprint.before_request(auth.load_caller)
            blueprint.after_request(_count_call)
            blueprint.bellyfed_ready = True
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint, url_prefix=PREFIX)
    from bellyfed.api import docs

    app.register_blueprint(docs.bp)
    app.extensions["bellyfed_api"] = api
    limits.init_app(app, blueprints)


def _count_call(response: Response) -> Response:
    """Each API call in the analytics pipeline: per endpoint (errors also per status), and per
    token when one was used."""
    # The caller's own data and errors are never stored by shared caches (cached GETs set
    # "public, no-cache" themselves).
    response.headers.setdefault("Cache-Control", "private, no-store")
    record("metric", "api_calls")
    record("api", request.endpoint or "unknown")
    if response.status_code >= 400:
        record("api_error", f"{request.endpoint or 'unknown'}:{response.status_code}")
    caller = g.get("api_caller")
    if caller is not None:
        record("api_token", caller.token.id)
    return response
