"""Password reset: ask for a link, follow it once, choose a new password.

The link carries a "reset" secret from ``bellyfed.dynamo.tokens``: one use, within
``PASSWORD_RESET_SECONDS``.
Asking for one always gets the same answer, so the page never tells whether an account exists.
Saving a new password ends every session of the user and revokes their reset links and API tokens.

Redis keys (fixed one-hour windows, the TTL set by the first count of a window):
    ``reset:sent:user:<user id>``  reset emails sent for an account (``MAX_EMAILS_PER_ACCOUNT``)
    ``reset:asked:address:<ip>``   reset requests from a client address (``MAX_ASKS_PER_ADDRESS``)
Redis being down turns the limits off (logged), never the feature.
"""

from __future__ import annotations

import logging
import math

import redis
from botocore.exceptions import BotoCoreError, ClientError
from flask import (
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user

from bellyfed.accounts import bp, throttle
from bellyfed.accounts.forms import ForgotPasswordForm, ResetPasswordForm
from bellyfed.accounts.models import User
from bellyfed.accounts.passwords import hash_password
from bellyfed.accounts.services import find_account
from bellyfed.accounts.sessions import end_sessions, rotate
from bellyfed.core import mail
from bellyfed.dynamo import tokens as storage
from bellyfed.extensions import db
from bellyfed.redis_client import get_redis

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60 * 60
MAX_EMAILS_PER_ACCOUNT = 3
MAX_ASKS_PER_ADDRESS = 20
SUBJECT = "Choose a new Bellyfed password"

# KEYS: the counter; ARGV: window, limit. Returns {0, 0} when counted, else {1, ms left}.
_TAKE_SLOT = """
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[2]) then
  return {1, redis.call('PTTL', KEYS[1])}
end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {0, 0}
"""


def _minutes() -> int:
    return current_app.config["PASSWORD_RESET_SECONDS"] // 60


def take_slot(key: str, limit: int) -> int | None:
    """Count one use against ``key``'s hourly limit; the seconds to wait when it is used up."""
    try:
        refused, ms_left = get_redis().register_script(_TAKE_SLOT)(
            keys=[key], args=[WINDOW_SECONDS, limit]
        )
    except redis.RedisError as exc:
        log.warning("Password reset limits are off: Redis is unavailable (%s)", exc)
        return None
    if not refused:
        return None
    return max(1, math.ceil(int(ms_left) / 1000)) if int(ms_left) > 0 else WINDOW_SECONDS


@bp.route("/auth/forgot", methods=["GET", "POST"])
def forgot() -> ResponseReturnValue:
    """Ask for a reset link; the answer is the same whether or not the account exists."""
    form = ForgotPasswordForm()
    if request.method == "GET" and current_user.is_authenticated:
        form.identifier.data = current_user.username
    if not form.validate_on_submit():
        return render_template("accounts/forgot.html", form=form, minutes=_minutes())
    wait = take_slot(
        f"reset:asked:address:{request.remote_addr or 'unknown'}", MAX_ASKS_PER_ADDRESS
    )
    if wait is not None:
        minutes = math.ceil(wait / 60)
        form.form_errors.append(
            "Too many reset requests from your network. "
            f"Try again in {minutes} minute{'s' * (minutes != 1)}."
        )
        page = render_template("accounts/forgot.html", form=form, minutes=_minutes())
        return page, 429, {"Retry-After": str(wait)}
    account = find_account(form.identifier.data)
    if account is not None and account.is_active:
        _send_link(account)
    flash(
        "If there's an account for that, we've sent an email with a link to choose a new "
        f"password. The link works once, within {_minutes()} minutes.",
        "success",
    )
    return redirect(url_for(".login"))


def _send_link(user: User) -> None:
    """Email the user a fresh reset link, unless they had ``MAX_EMAILS_PER_ACCOUNT`` this hour."""
    if take_slot(f"reset:sent:user:{user.id}", MAX_EMAILS_PER_ACCOUNT) is not None:
        log.info("No reset email for user %s: the hourly limit is reached", user.id)
        return
    try:
        secret, _ = storage.issue("reset", user.id, current_app.config["PASSWORD_RESET_SECONDS"])
        link = url_for(".reset", token=secret, _external=True)
        body = render_template("accounts/email_reset.txt", user=user, link=link, minutes=_minutes())
        mail.send(mail.Message(to=user.email, subject=SUBJECT, body=body))
    except (mail.MailError, BotoCoreError, ClientError):
        # Same answer regardless: an error page here would say that the account exists.
        log.exception("Could not send a password reset link to user %s", user.id)


@bp.route("/auth/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> ResponseReturnValue:
    """The one-use link: a new password ends every session and API token of the user."""
    response = make_response(_reset(token))
    # The secret is in the URL: keep it out of Referer headers and of any cache.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _reset(token: str) -> ResponseReturnValue:
    user = _owner(storage.find(token, "reset"))
    if user is None:
        return _expired()
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        return render_template("accounts/reset.html", form=form, token=token)
    if storage.consume(token, "reset") is None:  # used or expired since the find: a race lost
        return _expired()
    user.password_hash = hash_password(form.password.data)
    db.session.commit()
    _log_out_everywhere(user)
    flash(
        "Your password is changed and you're logged out everywhere. Log in with your new password.",
        "success",
    )
    return redirect(url_for(".login"))


def _owner(token: storage.Token | None) -> User | None:
    """The active user a live reset token belongs to."""
    if token is None or token.user_id is None:
        return None
    user = db.session.get(User, token.user_id)
    return user if user is not None and user.is_active else None


def _expired() -> ResponseReturnValue:
    return render_template("accounts/reset_expired.html", minutes=_minutes()), 410


def _log_out_everywhere(user: User) -> None:
    """After a reset: no session, reset link or API token made with the old password survives."""
    end_sessions(user.id)
    storage.revoke_all(user.id, "reset")
    storage.revoke_all(user.id, "api")
    # The failures counted against the old password are not the new password's fault.
    throttle.attempt_succeeded(
        throttle.account_subject(user.id, user.username), request.remote_addr
    )
    logout_user()  # this browser too, whoever was logged in on it
    session.clear()
    rotate()
