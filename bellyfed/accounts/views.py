"""Sign up, log in and out, account settings, and public profiles."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user

from bellyfed.accounts import bp, throttle, two_factor, two_factor_views
from bellyfed.accounts.forms import LoginForm, RegistrationForm
from bellyfed.accounts.queries import public_user, top_fives
from bellyfed.accounts.services import (
    RegistrationConflictError,
    authenticate,
    find_account,
    register_user,
)
from bellyfed.accounts.sessions import (
    RETRY_AFTER_SECONDS,
    SIGN_IN_UNAVAILABLE,
    available,
    end_sessions,
    rotate,
)
from bellyfed.accounts.settings_page import render_settings, save_settings
from bellyfed.accounts.two_factor_views import start_login
from bellyfed.analytics.events import record
from bellyfed.core.urls import safe_next
from bellyfed.extensions import db

BAD_CREDENTIALS = "That username or email and password don't match. Check them and try again."


def _next_path() -> str:
    return safe_next(request.args.get("next"))


def _next_param() -> str | None:
    """The ``next`` the form carries on to its POST, or none when the page was opened without."""
    return _next_path() if request.args.get("next") else None


def _login_page(
    form: LoginForm, status: int = 200, headers: dict[str, str] | None = None
) -> ResponseReturnValue:
    page = render_template("accounts/login.html", form=form, next_param=_next_param())
    return page, status, headers or {}


@bp.route("/auth/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Log in with a username or email; throttled per account and per address."""
    if current_user.is_authenticated:
        return redirect(_next_path())
    form = LoginForm()
    if not form.validate_on_submit():
        return _login_page(form)
    if not available():  # a login now would be lost with the response: say so, count nothing
        form.form_errors.append(SIGN_IN_UNAVAILABLE)
        return _login_page(form, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    account = find_account(form.identifier.data)
    subject = throttle.account_subject(account.id if account else None, form.identifier.data)
    refusal = throttle.take_attempt(subject, request.remote_addr)
    if refusal is not None:
        form.form_errors.append(refusal.message)
        return _login_page(form, 429, {"Retry-After": str(refusal.retry_after)})
    user = authenticate(account, form.password.data)
    if user is None:
        form.form_errors.append(BAD_CREDENTIALS)
        return _login_page(form)
    db.session.commit()
    if two_factor.is_enabled(user):  # earlier failures are cleared once the code is right
        throttle.attempt_passed(subject, request.remote_addr)
        return start_login(user, _next_path())
    throttle.attempt_succeeded(subject, request.remote_addr)
    for stale in (two_factor_views.SETUP_KEY, two_factor_views.MARK, two_factor_views.PENDING_KEY):
        session.pop(stale, None)  # nothing from before this sign-in speaks for it
    rotate()  # a new session id at sign-in: an id planted before it is worth nothing after
    login_user(user)
    record("metric", "logins")
    flash(f"Welcome back, {user.display_name}.", "success")
    return redirect(_next_path())


@bp.route("/auth/register", methods=["GET", "POST"])
def register() -> ResponseReturnValue:
    """Create an account and log straight in."""
    if current_user.is_authenticated:
        return redirect(_next_path())
    form = RegistrationForm()
    if form.validate_on_submit():
        if not available():  # no account it could not sign in to: the person tries again
            form.form_errors.append(SIGN_IN_UNAVAILABLE)
            page = render_template("accounts/register.html", form=form, next_param=_next_param())
            return page, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
        try:
            user = register_user(
                username=form.username.data,
                email=form.email.data,
                display_name=form.display_name.data,
                password=form.password.data,
            )
        except RegistrationConflictError as conflict:
            form[conflict.field].errors.append(conflict.message)
        else:
            db.session.commit()
            rotate()
            login_user(user)
            record("metric", "signups")
            flash(f"Welcome to Bellyfed, {user.display_name}! Your account is ready.", "success")
            return redirect(_next_path())
    return render_template("accounts/register.html", form=form, next_param=_next_param())


@bp.post("/auth/logout")
def logout() -> ResponseReturnValue:
    """Forget who is logged in on this browser; its session item goes when the response is saved."""
    logout_user()
    session.clear()
    rotate()
    flash("You're logged out. See you soon!", "success")
    return redirect(url_for("restaurants.index"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def settings() -> ResponseReturnValue:
    """Profile and preferences: two forms on one page, told apart by their ``section`` field."""
    user = current_user._get_current_object()
    if request.method == "GET":
        return render_settings(user)
    section = request.form.get("section")
    if section not in ("profile", "preferences"):
        abort(400, description="We couldn't tell which form you sent. Reload and try again.")
    return save_settings(user, section)


@bp.post("/account/sessions/end")
@login_required
def end_session() -> ResponseReturnValue:
    """End one of the user's sessions (``handle`` from the list), or all others (``scope``)."""
    scope = request.form.get("scope")
    if scope == "all":
        end_sessions(current_user.id)
        logout_user()
        session.clear()
        rotate()
        flash("You're logged out everywhere, this device included.", "success")
        return redirect(url_for("accounts.login"))
    if scope == "others":
        ended = end_sessions(current_user.id, keep_current=True)
        flash(f"Logged out everywhere else ({ended} session{'s' * (ended != 1)}).", "success")
    elif request.form.get("handle"):
        ended = end_sessions(current_user.id, only=request.form["handle"], keep_current=True)
        flash("That session is ended." if ended else "That session had already ended.", "success")
    else:
        abort(400, description="We couldn't tell which session to end. Reload and try again.")
    return redirect(url_for("accounts.settings"))


@bp.get("/users/<username>")
def profile(username: str) -> ResponseReturnValue:
    """A diner's public profile with their current top-5s."""
    if username != username.lower():
        return redirect(url_for(".profile", username=username.lower()), 301)
    user = public_user(username)
    if user is None:
        abort(404, description=f"There's no diner called “{username}” on Bellyfed.")
    return render_template("accounts/profile.html", user=user, top_fives=top_fives(user.id))


# Routes kept in modules of their own, registered on the same blueprint when imported here.
from bellyfed.accounts import (  # noqa: E402, F401
    password_change,
    password_reset,
    token_views,
)
