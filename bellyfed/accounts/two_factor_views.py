"""Two-step sign-in pages: the code after the password, and turning it on or off.

- ``/auth/two-factor``: after the right password, an account with two-step sign-in on is not
  signed in yet. The session holds only which account is half-way, for five minutes; the code
  (or a recovery code) finishes the log-in under a new session id. Wrong codes count with failed
  logins, and the account's failure count is only cleared once the code is right.
- ``/account/two-factor``: set up (scan the QR code, then type the password and the app's first
  code), see how many recovery codes are left, make new ones, or turn it off (password and a
  code). Each change ends the account's other sessions and is emailed to its address.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm

from bellyfed.accounts import bp, throttle, two_factor
from bellyfed.accounts.forms import (
    RecoveryCodesForm,
    TwoFactorDisableForm,
    TwoFactorLoginForm,
    TwoFactorSetupForm,
)
from bellyfed.accounts.models import User
from bellyfed.accounts.passwords import verify_password
from bellyfed.accounts.sessions import end_sessions, rotate
from bellyfed.analytics.events import record
from bellyfed.core import mail
from bellyfed.core.urls import safe_next
from bellyfed.extensions import db

log = logging.getLogger(__name__)

PENDING_KEY = "two_factor_login"
SETUP_KEY = "two_factor_setup"
BAD_CODE = (
    "That code didn't work. Codes change every 30 seconds and each works once: type the newest "
    "one, or one of your recovery codes."
)
BAD_SETUP_CODE = (
    "That code didn't match. Check that your phone's clock is right and type the newest code."
)
BAD_PASSWORD = "That isn't your password. Try again."  # noqa: S105 - a message
EXPIRED = "That took too long: log in again."
NOT_ON = "Two-step sign-in isn't on for your account: set it up below."
OPERATORS_KEEP_IT = "Operators keep two-step sign-in on: it protects the dashboard and the flags."
CHANGED_SUBJECT = "Two-step sign-in on your Bellyfed account changed"


def start_login(user: User, next_path: str) -> ResponseReturnValue:
    """The password was right: remember who is half-way and ask for the code."""
    rotate()
    session[PENDING_KEY] = {
        "user": user.id,
        "until": time.time() + two_factor.LOGIN_PENDING_SECONDS,
        "next": next_path,
    }
    return redirect(url_for("accounts.two_factor_login"))


def _pending_user() -> tuple[User | None, str]:
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or pending.get("until", 0) < time.time():
        return None, "/"
    user = db.session.get(User, pending.get("user"))
    if user is None or not user.is_active:
        return None, "/"
    return user, safe_next(pending.get("next"))


@bp.route("/auth/two-factor", methods=["GET", "POST"])
def two_factor_login() -> ResponseReturnValue:
    """The second step: a code from the app, or a recovery code."""
    if current_user.is_authenticated:
        return redirect(url_for("restaurants.index"))
    user, next_path = _pending_user()
    if user is None:
        session.pop(PENDING_KEY, None)
        flash(EXPIRED, "error")
        return redirect(url_for("accounts.login"))
    form = TwoFactorLoginForm()
    if not form.validate_on_submit():
        return _login_step(form, 422 if form.is_submitted() else 200)
    subject = throttle.account_subject(user.id, user.username)
    refusal = throttle.take_attempt(subject, request.remote_addr)
    if refusal is not None:
        form.code.errors.append(refusal.message)
        return _login_step(form, 429, {"Retry-After": str(refusal.retry_after)})
    kind = two_factor.check_code(user, form.code.data)
    if kind is None:
        db.session.commit()  # a secret moved to the current key stays moved
        form.code.errors.append(BAD_CODE)
        return _login_step(form, 422)
    db.session.commit()
    throttle.attempt_succeeded(subject, request.remote_addr)
    session.pop(PENDING_KEY, None)
    rotate()
    login_user(user)
    record("metric", "logins")
    if kind == "recovery":
        left = two_factor.recovery_codes_left(user)
        flash(
            f"Welcome back, {user.display_name}. That recovery code is used up: {left} left. "
            "Make new ones in your account settings if you're running low.",
            "success",
        )
    else:
        flash(f"Welcome back, {user.display_name}.", "success")
    return redirect(next_path)


def _login_step(
    form: TwoFactorLoginForm, status: int = 200, headers: dict[str, str] | None = None
) -> ResponseReturnValue:
    page = render_template("accounts/two_factor_login.html", form=form)
    return page, status, {"Cache-Control": "no-store", **(headers or {})}


@bp.get("/account/two-factor")
@login_required
def two_factor_settings() -> ResponseReturnValue:
    """Set it up, or manage it when it is on."""
    user: User = current_user._get_current_object()
    if two_factor.is_enabled(user):
        return _manage_page(RecoveryCodesForm(), TwoFactorDisableForm())
    return _setup_page(TwoFactorSetupForm())


@bp.post("/account/two-factor/enable")
@login_required
def enable_two_factor() -> ResponseReturnValue:
    """The password and the app's first code: two-step sign-in is on, recovery codes shown."""
    user: User = current_user._get_current_object()
    if two_factor.is_enabled(user):
        flash("Two-step sign-in is on already.", "success")
        return redirect(url_for(".two_factor_settings"))
    form = TwoFactorSetupForm()
    secret = session.get(SETUP_KEY)
    if not isinstance(secret, str):  # the session ended or was never on the setup page
        flash("Scan the new QR code below, then type its code.", "error")
        return redirect(url_for(".two_factor_settings"))
    if not form.validate_on_submit():
        return _setup_page(form, 422)
    refused = _password_refused(
        user, form, lambda status, headers: _setup_page(form, status, headers)
    )
    if refused is not None:
        return refused
    step = two_factor.check_setup_code(secret, form.code.data)
    if step is None:
        form.code.errors.append(BAD_SETUP_CODE)
        return _setup_page(form, 422)
    codes = two_factor.enable(user, secret, step)
    end_sessions(user.id, keep_current=True)
    db.session.commit()
    session.pop(SETUP_KEY, None)
    rotate()
    _notify(user, "turned on")
    return _codes_page(codes, turned_on=True)


@bp.post("/account/two-factor/recovery-codes")
@login_required
def new_recovery_codes() -> ResponseReturnValue:
    """A code from the app: ten new recovery codes, the old ones void."""
    user: User = current_user._get_current_object()
    if not two_factor.is_enabled(user):
        flash(NOT_ON, "error")
        return redirect(url_for(".two_factor_settings"))
    form = RecoveryCodesForm()
    if not form.validate_on_submit():
        return _manage_page(form, TwoFactorDisableForm(formdata=None), 422)
    refused = _code_refused(user, form, disable_form=TwoFactorDisableForm(formdata=None))
    if refused is not None:
        return refused
    codes = two_factor.replace_recovery_codes(user)
    db.session.commit()
    _notify(user, "given new recovery codes (the old ones stopped working)")
    return _codes_page(codes, turned_on=False)


@bp.post("/account/two-factor/disable")
@login_required
def disable_two_factor() -> ResponseReturnValue:
    """The password and a code: two-step sign-in is off (never for operators)."""
    user: User = current_user._get_current_object()
    if not two_factor.is_enabled(user):
        flash(NOT_ON, "error")
        return redirect(url_for(".two_factor_settings"))
    form = TwoFactorDisableForm()
    if user.is_admin:
        form.form_errors.append(OPERATORS_KEEP_IT)
        return _manage_page(RecoveryCodesForm(formdata=None), form, 403)
    if not form.validate_on_submit():
        return _manage_page(RecoveryCodesForm(formdata=None), form, 422)
    codes_form = RecoveryCodesForm(formdata=None)
    refused = _password_refused(
        user, form, lambda status, headers: _manage_page(codes_form, form, status, headers)
    )
    if refused is None:
        refused = _code_refused(user, form, disable_form=form)
    if refused is not None:
        return refused
    two_factor.disable(user)
    end_sessions(user.id, keep_current=True)
    db.session.commit()
    rotate()
    _notify(user, "turned off")
    flash("Two-step sign-in is off: your password alone logs you in now. You're logged out "
          "everywhere else.", "success")  # fmt: skip
    return redirect(url_for(".settings"))


def _password_refused(
    user: User,
    form: TwoFactorSetupForm | TwoFactorDisableForm,
    again: Callable[[int, dict[str, str] | None], ResponseReturnValue],
) -> ResponseReturnValue | None:
    """A throttled check of the password typed again; ``again`` renders the form when it fails."""
    subject = throttle.account_subject(user.id, user.username)
    refusal = throttle.take_attempt(subject, request.remote_addr)
    if refusal is not None:
        form.password.errors.append(refusal.message)
        return again(429, {"Retry-After": str(refusal.retry_after)})
    if not verify_password(user.password_hash, form.password.data):
        form.password.errors.append(BAD_PASSWORD)
        return again(422, None)
    throttle.attempt_succeeded(subject, request.remote_addr)
    return None


def _code_refused(
    user: User, form: RecoveryCodesForm | TwoFactorDisableForm, *, disable_form: FlaskForm
) -> ResponseReturnValue | None:
    """A throttled check of a code; the page to show when it fails."""
    subject = throttle.account_subject(user.id, user.username)
    refusal = throttle.take_attempt(subject, request.remote_addr)
    codes_form = form if isinstance(form, RecoveryCodesForm) else RecoveryCodesForm(formdata=None)
    if refusal is not None:
        form.code.errors.append(refusal.message)
        headers = {"Retry-After": str(refusal.retry_after)}
        return _manage_page(codes_form, disable_form, 429, headers)
    if isinstance(form, RecoveryCodesForm):
        ok = two_factor.check_app_code(user, form.code.data)
    else:
        ok = two_factor.check_code(user, form.code.data) is not None
    if not ok:
        db.session.commit()
        form.code.errors.append(BAD_CODE)
        return _manage_page(codes_form, disable_form, 422)
    throttle.attempt_succeeded(subject, request.remote_addr)
    return None


def _setup_page(
    form: TwoFactorSetupForm, status: int = 200, headers: dict[str, str] | None = None
) -> ResponseReturnValue:
    user: User = current_user._get_current_object()
    secret = session.get(SETUP_KEY)
    if not isinstance(secret, str):
        secret = session[SETUP_KEY] = two_factor.new_secret()
    uri = two_factor.provisioning_uri(secret, user)
    page = render_template("accounts/two_factor_setup.html", form=form, qr=two_factor.qr_code(uri),
                           secret=two_factor.grouped(secret), required=user.is_admin)  # fmt: skip
    return page, status, {"Cache-Control": "no-store", **(headers or {})}


def _manage_page(
    codes_form: RecoveryCodesForm,
    disable_form: TwoFactorDisableForm | FlaskForm,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> ResponseReturnValue:
    user: User = current_user._get_current_object()
    page = render_template(
        "accounts/two_factor_manage.html",
        codes_form=codes_form,
        disable_form=disable_form,
        codes_left=two_factor.recovery_codes_left(user),
        operator=user.is_admin,
    )
    return page, status, {"Cache-Control": "no-store", **(headers or {})}


def _codes_page(codes: list[str], *, turned_on: bool) -> ResponseReturnValue:
    page = render_template("accounts/recovery_codes.html", codes=codes, turned_on=turned_on)
    return page, 200, {"Cache-Control": "no-store"}


def _notify(user: User, what: str) -> None:
    """Email the account's address that two-step sign-in changed (ASVS 2.5.5)."""
    body = render_template("accounts/email_two_factor_changed.txt", user=user, what=what,
                           forgot=url_for("accounts.forgot", _external=True))  # fmt: skip
    try:
        mail.send(mail.Message(to=user.email, subject=CHANGED_SUBJECT, body=body))
    except mail.MailError:
        log.exception("Could not send the two-step sign-in email to user %s", user.id)
