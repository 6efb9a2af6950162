"""/admin/dashboard: live analytics that refresh themselves (HTMX polling)."""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import abort, flash, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, logout_user

from bellyfed.accounts import two_factor, two_factor_views
from bellyfed.admin import bp
from bellyfed.analytics.dashboard import build
from bellyfed.core.htmx import render_page_or_fragment
from bellyfed.redis_client import get_redis

REFRESH_SECONDS = 5


def admin_required(view: Any) -> Any:
    """Signed in (else to the login page), an operator (else 403), with two-step sign-in on
    (else to its setup) and this session signed in with a code (else out, and to the code)."""

    @wraps(view)
    @login_required
    def wrapped(*args: object, **kwargs: object) -> ResponseReturnValue:
        if not current_user.is_admin:
            abort(403, description="The dashboard is for Bellyfed operators.")
        if not two_factor.is_enabled(current_user):  # ASVS 4.3.1: MFA on administrative pages
            return redirect(url_for("accounts.two_factor_settings"))  # the page says why
        if not two_factor_views.session_gave_code():  # signed in by password alone (older)
            user = current_user._get_current_object()
            logout_user()
            session.clear()
            flash("Type a code from your authenticator app to open the operator pages.", "success")
            return two_factor_views.start_login(user, request.full_path.rstrip("?"))
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
