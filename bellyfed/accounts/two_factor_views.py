"""Two-step sign-in pages: the code after the password, and turning it on or off.

- ``/auth/two-factor``: after the right password, an account with two-step sign-in on is not
  signed in yet. The session holds only which account is half-way (and a fingerprint of its
  password hash, so a reset or change in between voids it), for five minutes; its DynamoDB item
  is the account's, so "log out everywhere" and a password reset end it too. The code (or a
  recovery code) finishes the log-in under a new session id and marks the session as having
  given one (``MARK``: what /admin asks for). Five wrong codes end the half-way log-in; the third
  emails the owner, since whoever types them knows the password.
- ``/account/two-factor``: set up (scan the QR code, then type the password and the app's first
  code), see how many recovery codes are left, make new ones, or turn it off (password and a
  code). Turning it on or off ends the account's other sessions; every change is emailed.
- Wrong codes are counted in Redis under their own name (``throttle.code_subject``): a right
  password never clears them, only a right code. With Redis down, codes are refused, not waved
  through: a six-digit code is cheap to guess.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError

from bellyfed.accounts import bp, throttle, two_factor
from bellyfed.accounts.forms import (
    RecoveryCodesForm,
    TwoFactorDisableForm,
    TwoFactorLoginForm,
    TwoFactorSetupForm,
)
from bellyfed.accounts.models import User
from bellyfed.accounts.passwords import verify_password
from bellyfed.accounts.sessions import PENDING_LOGIN_KEY, end_sessions, rotate
from bellyfed.analytics.events import record
from bellyfed.core import mail
from bellyfed.core.urls import safe_next
from bellyfed.extensions import db

log = logging.getLogger(__name__)

PENDING_KEY = PENDING_LOGIN_KEY
SETUP_KEY = "two_factor_setup"
MARK = "two_factor_at"  # when this session last gave a code (set at log-in and at set-up)
MAX_WRONG_PER_LOGIN = 5
WARN_AFTER_WRONG = 3
BAD_CODE = (
    "That code didn't work. Codes change every 30 seconds and each works once: type the newest "
    "one, or one of your recovery codes."
)
JUST_USED = "That code was just used: wait for the next one your app shows, and type that."
BAD_SETUP_CODE = (
    "That code didn't match. Check that your phone's clock is right and type the newest code."
)
BAD_PASSWORD = "That isn't your password. Try again."  # noqa: S105 - a message
EXPIRED = "That took too long: log in again."
TOO_MANY_WRONG = "Too many wrong codes: log in again."
NOT_ON = "Two-step sign-in isn't on for your account: set it up below."
OPERATORS_KEEP_IT = "Operators keep two-step sign-in on: it protects the dashboard and the flags."
CHANGED_SUBJECT = "Two-step sign-in on your Bellyfed account changed"
REUSED_SUBJECT = "A used sign-in code was tried on your Bellyfed account"
GUESSING_SUBJECT = "Someone is trying to log in to your Bellyfed account"
RECOVERY_USED_SUBJECT = "A recovery code was used to log in to your Bellyfed account"


def _fingerprint(user: User) -> str:
    """Changes whenever the password does (so does its hash); reveals nothing of either."""
    return hashlib.sha256(b"half-way log-in\0" + user.password_hash.encode()).hexdigest()[:32]


def start_login(user: User, next_path: str) -> ResponseReturnValue:
    """The password was right: remember who is half-way and ask for the code."""
    rotate()
    session.pop(SETUP_KEY, None)
    session.pop(MARK, None)
    session[PENDING_KEY] = {
        "user": user.id,
        "password": _fingerprint(user),
        "until": time.time() + two_factor.LOGIN_PENDING_SECONDS,
        "next": next_path,
        "wrong": 0,
    }
    return redirect(url_for("accounts.two_factor_login"))


def _pending_user() -> tuple[User | None, dict]:
    """The account a half-way log-in is for, and its state; (None, {}) once it has lapsed, or
    when the account was deactivated or its password changed since."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or pending.get("until", 0) < time.time():
        return None, {}
    user_id = pending.get("user")
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.is_active or pending.get("password") != _fingerprint(user):
        return None, {}
    return user, pending


def mark_session() -> None:
    """This session gave a code now."""
    session[MARK] = time.time()


def session_gave_code() -> bool:
    """Whether this session was signed in (or set up) with a code, not a password alone."""
    return isinstance(session.get(MARK), float | int)


@bp.route("/auth/two-factor", methods=["GET", "POST"])
def two_factor_login() -> ResponseReturnValue:
    """The second step: a code from the app, or a recovery code."""
    if current_user.is_authenticated:
        return redirect(url_for("restaurants.index"))
    user, pending = _pending_user()
    if user is None:
        session.pop(PENDING_KEY, None)
        flash(EXPIRED, "error")
        return redirect(url_for("accounts.login"))
    form = TwoFactorLoginForm()
    if not form.validate_on_submit():
        return _login_step(form, 422 if form.is_submitted() else 200)
    subject = throttle.code_subject(user.id)
    refusal = throttle.take_attempt(subject, request.remote_addr, fail_closed=True)
    if refusal is not None:
        form.code.errors.append(refusal.message)
        status = 503 if refusal.scope == "unavailable" else 429
        return _login_step(form, status, {"Retry-After": str(refusal.retry_after)})
    verdict = two_factor.check_code(user, form.code.data)
    db.session.commit()  # a code used up stays used; a secret moved to the current key stays moved
    if verdict in ("app", "recovery"):
        return _finish_login(user, pending, verdict)
    if verdict == "reused":
        _email(user, REUSED_SUBJECT, "accounts/email_two_factor_reused.txt")
    pending["wrong"] = pending.get("wrong", 0) + 1
    session[PENDING_KEY] = pending
    if pending["wrong"] == WARN_AFTER_WRONG:
        _email(user, GUESSING_SUBJECT, "accounts/email_two_factor_guessing.txt")
    if pending["wrong"] >= MAX_WRONG_PER_LOGIN:
        session.pop(PENDING_KEY, None)
        flash(TOO_MANY_WRONG, "error")
        return redirect(url_for("accounts.login"))
    form.code.errors.append(BAD_CODE)
    return _login_step(form, 422)


def _finish_login(user: User, pending: dict, verdict: str) -> ResponseReturnValue:
    throttle.attempt_succeeded(throttle.code_subject(user.id), request.remote_addr)
    throttle.forget_failures(throttle.account_subject(user.id, user.username))
    session.pop(PENDING_KEY, None)
    rotate()
    login_user(user)
    mark_session()
    record("metric", "logins")
    if verdict == "recovery":
        left = two_factor.recovery_codes_left(user)
        _email(user, RECOVERY_USED_SUBJECT, "accounts/email_two_factor_recovery_used.txt",
               left=left)  # fmt: skip
        flash(
            f"Welcome back, {user.display_name}. That recovery code is used up: {left} left. "
            "Make new ones in your account settings if you're running low.",
            "success",
        )
    else:
        flash(f"Welcome back, {user.display_name}.", "success")
    return redirect(safe_next(pending.get("next")))


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


def _setup_secret(user: User) -> str | None:
    """The secret of the app being set up: encrypted in the session, and only for its account."""
    stored = session.get(SETUP_KEY)
    if not isinstance(stored, dict) or stored.get("user") != user.id:
        return None
    token = stored.get("secret")
    return two_factor.decrypt(token) if isinstance(token, str) else None


@bp.post("/account/two-factor/enable")
@login_required
def enable_two_factor() -> ResponseReturnValue:
    """The password and the app's first code: two-step sign-in is on, recovery codes shown."""
    user: User = current_user._get_current_object()
    if two_factor.is_enabled(user):
        flash("Two-step sign-in is on already.", "success")
        return redirect(url_for(".two_factor_settings"))
    form = TwoFactorSetupForm()
    secret = _setup_secret(user)
    if secret is None:  # the session ended or was never on the setup page
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
    try:
        codes = two_factor.enable(user, secret, step)
        db.session.flush()
    except IntegrityError:  # the same form sent twice at once: the first one turned it on
        db.session.rollback()
        flash("Two-step sign-in is on already.", "success")
        return redirect(url_for(".two_factor_settings"))
    end_sessions(user.id, keep_current=True)
    db.session.commit()
    session.pop(SETUP_KEY, None)
    rotate()
    mark_session()
    _email(user, CHANGED_SUBJECT, "accounts/email_two_factor_changed.txt",
           what="turned on", sessions_ended=True)  # fmt: skip
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
    what = "given new recovery codes (the old ones stopped working)"
    _email(user, CHANGED_SUBJECT, "accounts/email_two_factor_changed.txt",
           what=what, sessions_ended=False)  # fmt: skip
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
    session.pop(MARK, None)
    _email(user, CHANGED_SUBJECT, "accounts/email_two_factor_changed.txt",
           what="turned off", sessions_ended=True)  # fmt: skip
    flash("Two-step sign-in is off: your password alone logs you in now. You're logged out "
          "everywhere else.", "success")  # fmt: skip
    return redirect(url_for(".settings"))


def _password_refused(
    user: User,
    form: TwoFactorSetupForm | TwoFactorDisableForm,
    again: Callable[[int, dict[str, str] | None], ResponseReturnValue],
) -> ResponseReturnValue | None:
    """A throttled check of the password typed again; ``again`` renders the form when it fails.
    A right one gives its slot back but clears no failures (of passwords or codes)."""
    subject = throttle.account_subject(user.id, user.username)
    refusal = throttle.take_attempt(subject, request.remote_addr)
    if refusal is not None:
        form.password.errors.append(refusal.message)
        return again(429, {"Retry-After": str(refusal.retry_after)})
    if not verify_password(user.password_hash, form.password.data):
        form.password.errors.append(BAD_PASSWORD)
        return again(422, None)
    throttle.attempt_passed(subject, request.remote_addr)
    return None


def _code_refused(
    user: User, form: RecoveryCodesForm | TwoFactorDisableForm, *, disable_form: FlaskForm
) -> ResponseReturnValue | None:
    """A throttled check of a code (the app's only, for new recovery codes); the page to show
    when it fails. A code used a moment ago is told apart: the person just typed it twice."""
    subject = throttle.code_subject(user.id)
    refusal = throttle.take_attempt(subject, request.remote_addr, fail_closed=True)
    codes_form = form if isinstance(form, RecoveryCodesForm) else RecoveryCodesForm(formdata=None)
    if refusal is not None:
        form.code.errors.append(refusal.message)
        status = 503 if refusal.scope == "unavailable" else 429
        return _manage_page(codes_form, disable_form, status,
                            {"Retry-After": str(refusal.retry_after)})  # fmt: skip
    if isinstance(form, RecoveryCodesForm):
        verdict = two_factor.check_app_code(user, form.code.data)
    else:
        verdict = two_factor.check_code(user, form.code.data)
    db.session.commit()
    if verdict not in ("ok", "app", "recovery"):
        form.code.errors.append(JUST_USED if verdict == "reused" else BAD_CODE)
        return _manage_page(codes_form, disable_form, 422)
    throttle.attempt_succeeded(subject, request.remote_addr)
    return None


def _setup_page(
    form: TwoFactorSetupForm, status: int = 200, headers: dict[str, str] | None = None
) -> ResponseReturnValue:
    user: User = current_user._get_current_object()
    secret = _setup_secret(user)
    if secret is None:
        secret = two_factor.new_secret()
        session[SETUP_KEY] = {"user": user.id, "secret": two_factor.encrypt(secret)}
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


def _email(user: User, subject: str, template: str, **context: object) -> None:
    """Tell the account's address what happened (ASVS 2.2.3, 2.5.5, 2.8.5); after the commit."""
    body = render_template(template, user=user, forgot=url_for("accounts.forgot", _external=True),
                           **context)  # fmt: skip
    try:
        mail.send(mail.Message(to=user.email, subject=subject, body=body))
    except mail.MailError:
        log.exception("Could not send %r to user %s", subject, user.id)
