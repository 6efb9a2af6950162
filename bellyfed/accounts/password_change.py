"""Changing the password while signed in, and the email that tells the owner it changed.

``/account/password`` asks for the current password (a borrowed session can't change it, and its
guesses count with failed logins), then a new one under the sign-up rules. Saving ends every other
session, revokes the API tokens and any reset links, then commits, in that order (like a reset,
``password_reset._save``); this browser stays signed in under a new session id. Either way a
password changes, the account's email address is told (ASVS 2.2.3), through the worker.
"""

from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError, ClientError
from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from bellyfed.accounts import bp, throttle
from bellyfed.accounts.forms import ChangePasswordForm
from bellyfed.accounts.models import User
from bellyfed.accounts.passwords import (
    PERSONAL_MESSAGE,
    hash_password,
    is_personal,
    verify_password,
)
from bellyfed.accounts.sessions import end_sessions, rotate
from bellyfed.core import mail
from bellyfed.dynamo import tokens as storage
from bellyfed.extensions import db

log = logging.getLogger(__name__)

BAD_CURRENT = "That isn't your current password. Try again."
SAME_AS_BEFORE = "That is your current password: choose a new one."
CHANGED_SUBJECT = "Your Bellyfed password was changed"
RETRY_AFTER_SECONDS = 60


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> ResponseReturnValue:
    """The current password, and a new one typed twice."""
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _page(form, 422 if form.is_submitted() else 200)
    user: User = current_user._get_current_object()
    subject = throttle.account_subject(user.id, user.username)
    refusal = throttle.take_attempt(subject, request.remote_addr)
    if refusal is not None:
        form.current.errors.append(refusal.message)
        return _page(form, 429, {"Retry-After": str(refusal.retry_after)})
    if not verify_password(user.password_hash, form.current.data):
        form.current.errors.append(BAD_CURRENT)
        return _page(form, 422)
    throttle.attempt_succeeded(subject, request.remote_addr)
    if form.password.data == form.current.data:
        form.password.errors.append(SAME_AS_BEFORE)
        return _page(form, 422)
    if is_personal(form.password.data, (user.username, user.email, user.display_name)):
        form.password.errors.append(PERSONAL_MESSAGE)
        return _page(form, 422)
    password_hash = hash_password(form.password.data)
    try:
        # Taking access away first is safe if a later step fails: the old password still works.
        end_sessions(user.id, keep_current=True)
        storage.revoke_all(user.id, "api")
        storage.revoke_all(user.id, "reset")
        user.password_hash = password_hash
        db.session.commit()
    except (BotoCoreError, ClientError, SQLAlchemyError):
        db.session.rollback()
        log.exception("Could not change the password of user %s", user.id)
        form.form_errors.append(
            "We couldn't save your new password just now; your password is unchanged. "
            "Try again in a minute."
        )
        return _page(form, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    rotate()  # a new session id for this browser: nothing from before the change lives on
    notify_changed(user)
    flash(
        "Your password is changed. You're still logged in here; everywhere else you're logged "
        "out, and your API tokens have stopped working.",
        "success",
    )
    return redirect(url_for(".settings"))


def notify_changed(user: User) -> None:
    """Email the account's address that its password changed (a failure is logged, not shown:
    the change is done)."""
    body = render_template("accounts/email_password_changed.txt", user=user,
                           forgot=url_for("accounts.forgot", _external=True))  # fmt: skip
    try:
        mail.send(mail.Message(to=user.email, subject=CHANGED_SUBJECT, body=body))
    except mail.MailError:
        log.exception("Could not send the password-changed email to user %s", user.id)


def _page(
    form: ChangePasswordForm, status: int = 200, headers: dict[str, str] | None = None
) -> ResponseReturnValue:
    page = render_template("accounts/password.html", form=form)
    return page, status, {"Cache-Control": "no-store", **(headers or {})}
