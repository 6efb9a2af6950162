"""/admin/dashboard: live analytics that refresh themselves (HTMX polling)."""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import abort, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from bellyfed.accounts import two_factor
from bellyfed.admin import bp
from bellyfed.analytics.dashboard import build
from bellyfed.core.htmx import render_page_or_fragment
from bellyfed.redis_client import get_redis

REFRESH_SECONDS = 5


def admin_required(view: Any) -> Any:
    """Signed in (else to the login page), an operator (else 403), with two-step sign-in on
    (else to its setup)."""

    @wraps(view)
    @login_required
    def wrapped(*args: object, **kwargs: object) -> ResponseReturnValue:
        if not current_user.is_admin:
            abort(403, description="The dashboard is for Bellyfed operators.")
        if not two_factor.is_enabled(current_user):  # ASVS 4.3.1: MFA on administrative pages
            return redirect(url_for("accounts.two_factor_settings"))  # the page says why
        return view(*args, **kwargs)

    return wrapped


@bp.get("/dashboard")
@admin_required
def dashboard() -> ResponseReturnValue:
    """The dashboard page, or (polled by HTMX) just its panel."""
    response = render_page_or_fragment(
        "admin/dashboard.html",
        "admin/_panel.html",
        board=build(get_redis()),
        refresh=REFRESH_SECONDS,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


from bellyfed.admin import flags  # noqa: E402, F401
