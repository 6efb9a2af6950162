"""Site-wide HTTP behaviour: CSRF, security headers and error pages."""

from __future__ import annotations

import logging

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    make_response,
    render_template,
    request,
    session,
)
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, SecurityError, ServiceUnavailable
from werkzeug.routing import IntegerConverter, Map

from bellyfed.accounts.sessions import RETRY_AFTER_SECONDS, SIGN_IN_UNAVAILABLE, available
from bellyfed.extensions import db

log = logging.getLogger(__name__)
csrf = CSRFProtect()

# No inline scripts or styles anywhere: HTMX is loaded from /static and configured by a meta tag.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; object-src 'none'"
)

FRAMING_POLICY = "frame-ancestors 'none'"
DATABASE_RETRY_AFTER_SECONDS = 60
# Production only: two years, subdomains included (not "preload": that is the domain owner's call).
STRICT_TRANSPORT_SECURITY = "max-age=63072000; includeSubDomains"
# Nothing on Bellyfed uses these browser features; "near me" search takes typed coordinates.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

ERROR_MESSAGES = {
    400: "That request did not make sense to us.",
    403: "You can't do that.",
    404: "We couldn't find that page.",
    405: "That page doesn't accept this kind of request.",
    413: "That upload is too large.",
    429: "Too many attempts. Please wait a little and try again.",
    500: "Something went wrong on our side. Please try again.",
    503: "Bellyfed is briefly unavailable. Please try again shortly.",
}


class IdConverter(IntegerConverter):
    """``<int:…>`` that stops at PostgreSQL's bigint: a larger number is a 404, not a 500."""

    def __init__(self, url_map: Map, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


def register_converters(app: Flask) -> None:
    """Must run before any blueprint registers its routes."""
    app.url_map.converters["int"] = IdConverter


def init_app(app: Flask) -> None:
    """CSRF on every unsafe request (HTMX sends the token in X-CSRFToken), headers, error pages."""
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session
    app.before_request(_refuse_unnamed_fields)  # before the CSRF check, which would trip on them
    csrf.init_app(app)
    app.before_request(_refuse_nul_bytes)
    app.after_request(_security_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _database_unavailable)


def _refuse_unnamed_fields() -> None:
    """A multipart part whose name Werkzeug can't read (``name="\\"``) comes back keyed None, and
    Flask-WTF's CSRF check then fails with a 500: refuse the form with a 400 instead."""
    if request.mimetype == "multipart/form-data" and (
        None in request.form or None in request.files
    ):
        abort(400, description="That form has a field without a proper name. "
                               "Reload the page and try again.")  # fmt: skip


def _refuse_nul_bytes() -> None:
    """PostgreSQL text cannot hold NUL: refuse it up front with a 400, not a 500 later."""
    # Every value of a repeated argument (``cuisine=a&cuisine=b``), not just the first.
    values = [*request.args.keys(), *(v for vs in request.args.listvalues() for v in vs),
              *(request.view_args or {}).values()]  # fmt: skip
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        values += [v for vs in request.form.listvalues() for v in vs]
    if any("\x00" in value for value in values if isinstance(value, str)):
        abort(400, description="That request contains a character we can't accept (a NUL byte).")


def _security_headers(response: Response) -> Response:
    """Every response, pages, errors, static files and the API alike (views may tighten them)."""
    policies = response.headers.getlist("Content-Security-Policy")
    if not policies:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    elif not any("frame-ancestors" in policy for policy in policies):
        # A view's own policy (photos) says nothing of framing: a second policy does, and
        # browsers enforce every policy they are sent.
        response.headers.add("Content-Security-Policy", FRAMING_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    if request.path.startswith("/api/") and (response.mimetype or "").endswith("json"):
        # A browser sent to an API URL saves the JSON rather than rendering it (ASVS 14.4.2).
        response.headers.setdefault("Content-Disposition", 'attachment; filename="api.json"')
    if current_app.config.get("BELLYFED_ENV") == "production":
        # Production is served over HTTPS only (secure __Host- cookie); browsers ignore the header
        # on plain HTTP, so it is sent whatever the scheme the proxy in front reports.
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    return response


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _http_error(error: HTTPException) -> Response | tuple[Response | str, int]:
    code = error.code or 500
    if code >= 500:
        db.session.rollback()  # the error page must not trip over a failed transaction
    message = (
        error.description if code not in ERROR_MESSAGES or _custom(error) else ERROR_MESSAGES[code]
    )
    if isinstance(error, SecurityError):  # a Host outside TRUSTED_HOSTS: no URLs can be built
        return Response("Unknown host.", status=400, mimetype="text/plain")
    if request.path.startswith("/api/"):
        from bellyfed.api.problems import from_exception

        return from_exception(error)
    if _wants_json():
        return jsonify(error=error.name, detail=message), code
    return render_template("errors/error.html", code=code, title=error.name, message=message), code


def _database_unavailable(error: OperationalError) -> Response:
    """PostgreSQL down, restarting or a statement over its time limit: a 503 that says so."""
    log.warning("database unavailable: %s", error.orig or error)
    db.session.rollback()
    # The page must not load the signed-in user from the database that just failed (nor reload
    # one loaded before: the rollback expired it): it shows the signed-out navigation.
    g._login_user = current_app.login_manager.anonymous_user()
    response = make_response(
        _http_error(
            ServiceUnavailable(
                "Bellyfed's database is briefly unavailable or too slow right now. "
                "Please try again shortly."
            )
        )
    )
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def _custom(error: HTTPException) -> bool:
    """True when the view gave its own description rather than werkzeug's default text."""
    return type(error).description != error.description


SIGN_IN_ENDPOINTS = ("accounts.login", "accounts.register")
FORMS_UNAVAILABLE = (
    "Sending forms is briefly unavailable: we can't check this one right now. "
    "Browsing works as usual; try again in a minute."
)


def _csrf_error(error: CSRFError) -> ResponseReturnValue:
    if _sessions_down():  # the token was fine, the store that keeps it is not: not "expired"
        sign_in = request.endpoint in SIGN_IN_ENDPOINTS
        page = render_template(
            "errors/error.html", code=503, title="Briefly unavailable",
            message=SIGN_IN_UNAVAILABLE if sign_in else FORMS_UNAVAILABLE,
        )  # fmt: skip
        return page, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    message = "Your form expired or came from elsewhere. Reload the page and try again."
    return render_template(
        "errors/error.html", code=400, title="Form expired", message=message
    ), 400


def _sessions_down() -> bool:
    """This request found the session store down; or, for a sign-in form whose session holds no
    token (a visitor whose first session could not be saved), one probe finds it down."""
    if getattr(session, "unavailable", False):
        return True
    token_key = current_app.config["WTF_CSRF_FIELD_NAME"]
    return request.endpoint in SIGN_IN_ENDPOINTS and token_key not in session and not available()
