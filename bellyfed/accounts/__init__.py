"""Accounts: users, profiles, preferences and sign-in."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask import Blueprint, Flask, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from bellyfed.core.htmx import is_htmx
from bellyfed.core.urls import browser_page, safe_next
from bellyfed.data import preferences_store
from bellyfed.extensions import db, login_manager

if TYPE_CHECKING:
    from bellyfed.accounts.models import User

bp = Blueprint("accounts", __name__, cli_group="users")


def init_app(app: Flask) -> None:
    """Wire Flask-Login to the users table and to our log-in page; refuse a misspelt
    ``PREFERENCES_STORE`` now (a ConfigError) rather than on every signed-in page."""
    preferences_store.check_setting(app.config)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please log in to see that page."
    login_manager.login_message_category = "message"
    login_manager.unauthorized_handler(_ask_to_log_in)

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        from bellyfed.accounts.models import User

        if not user_id.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        return user if user is not None and user.is_active else None


def _ask_to_log_in() -> ResponseReturnValue:
    """Send a visitor to the log-in page, to come back where they were once logged in.

    HTMX gets an ``HX-Redirect`` (a plain redirect would swap the whole log-in page into a
    fragment's place).
    """
    flash(login_manager.login_message, login_manager.login_message_category)
    login_url = url_for("accounts.login", next=_return_path())
    if is_htmx():
        return "", 401, {"HX-Redirect": login_url}
    return redirect(login_url)


def _return_path() -> str | None:
    """Where to come back after logging in; None when the request doesn't say (or says nonsense:
    header values are the client's, and some URLs make ``urlsplit`` raise ValueError)."""
    try:
        if is_htmx():
            return browser_page()
        if request.method == "GET":
            return request.full_path.rstrip("?")
        # A form POST returns to the page the form was on: its own URL may not answer a GET.
        referrer = urlsplit(request.referrer or "")
    except ValueError:  # e.g. a host with full-width slashes (invalid under NFKC)
        return None
    if referrer.netloc != request.host:
        return None
    return safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""))
