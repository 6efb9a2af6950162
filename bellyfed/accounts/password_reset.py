"""Password reset: ask for a link, follow it once, choose a new password.

Asking (``/auth/forgot``) does the same work in the request whatever was typed: the per-address
limit, then one ``worker.tasks.send_password_reset`` task carrying the identifier (with
``MAIL_VIA_WORKER`` off, the same ``send_link`` runs inline). The task looks the account up,
applies the per-account limit, stores a "reset" secret (``bellyfed.dynamo.tokens``: one use,
within ``PASSWORD_RESET_SECONDS``) and emails the link. So neither the answer, nor its timing, nor
a failure along the way tells whether an account exists.

Following the link: ``GET /auth/reset/<secret>`` (the emailed link) checks the secret, keeps it in
the server-side session and redirects to ``/auth/reset``, so the secret appears in one access-log
line and never in the address bar or history while the form is shown. Saving a new password ends
every session of the user and revokes their reset links and API tokens, before the password is
committed (see ``_save``).

Redis keys (fixed one-hour windows, the TTL set by the first count of a window):
    ``reset:sent:user:<user id>``  reset emails sent for an account (``MAX_EMAILS_PER_ACCOUNT``)
    ``reset:asked:address:<ip>``   reset requests from a client address (``MAX_ASKS_PER_ADDRESS``)
Redis being down turns the limits off (logged), never the feature.
"""

from __future__ import annotations

import logging
import math
from urllib.parse import urlsplit

import redis
from botocore.exceptions import BotoCoreError, ClientError
from flask import (
    Response,
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
from kombu.exceptions import OperationalError
from sqlalchemy.exc import SQLAlchemyError

from bellyfed.accounts import bp, throttle
from bellyfed.accounts.forms import ForgotPasswordForm, ResetPasswordForm
from bellyfed.accounts.models import User
from bellyfed.accounts.password_change import notify_changed
from bellyfed.accounts.passwords import PERSONAL_MESSAGE, hash_password, is_personal
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
SEND_TASK = "worker.tasks.send_password_reset"  # by name: the web process need not import it
SESSION_KEY = "reset_secret"  # the secret of the link being followed, in the server-side session
RETRY_AFTER_SECONDS = 60
DYNAMO_ERRORS = (BotoCoreError, ClientError)
SEND_FAILURES = (mail.MailError, BotoCoreError, ClientError)

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
    """Ask for a reset link; the answer, and the work behind it, is the same for any account."""
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
    _hand_over(form.identifier.data.strip().lower(), request.url_root)
    flash(
        "If there's an account for that, we've sent an email with a link to choose a new "
        f"password. The link works once, within {_minutes()} minutes.",
        "success",
    )
    return redirect(url_for(".login"))


def _hand_over(identifier: str, url_root: str) -> None:
    """Queue ``send_link`` for the worker (or, ``MAIL_VIA_WORKER`` off, run it now)."""
    if current_app.config["MAIL_VIA_WORKER"]:
        try:
            current_app.extensions["celery"].send_task(SEND_TASK, args=[identifier, url_root])
        except OperationalError:  # every request enqueues: an outage says nothing about accounts
            log.exception("Could not queue a password reset request: the broker is unreachable")
        return
    try:
        send_link(identifier, url_root)
    except Exception as exc:
        # Only an existing account gets this far into send_link: an error page would say so.
        db.session.rollback()
        if not isinstance(exc, SEND_FAILURES):  # send_link logged those
            log.exception("A password reset request failed")


def send_link(identifier: str, url_root: str) -> bool:
    """Email a fresh reset link to the active account ``identifier`` names, if there is one.

    The work of ``worker.tasks.send_password_reset``; no request needed: the link is built on
    ``url_root``, the scheme and host the request came to (``TRUSTED_HOSTS`` restricts the host).
    Returns whether a link went out; failing to store it or send it is logged and raised.
    """
    user = find_account(identifier)
    if user is None or not user.is_active:
        return False
    if take_slot(f"reset:sent:user:{user.id}", MAX_EMAILS_PER_ACCOUNT) is not None:
        log.info("No reset email for user %s: the hourly limit is reached", user.id)
        return False
    try:
        secret, _ = storage.issue("reset", user.id, current_app.config["PASSWORD_RESET_SECONDS"])
        link = _external_link(url_root, secret)
        body = render_template("accounts/email_reset.txt", user=user, link=link, minutes=_minutes())
        mail.send(mail.Message(to=user.email, subject=SUBJECT, body=body))
    except SEND_FAILURES:
        log.exception("Could not send a password reset link to user %s", user.id)
        raise
    return True


def _external_link(url_root: str, secret: str) -> str:
    """The emailed link to ``secret``, under ``url_root`` (as ``url_for`` would build it)."""
    root = urlsplit(url_root)
    adapter = current_app.url_map.bind(root.netloc, script_name=root.path, url_scheme=root.scheme)
    return adapter.build("accounts.reset_link", {"token": secret}, force_external=True)


@bp.route("/auth/reset/<token>", methods=["GET", "POST"])  # POST: a form shown before the move
def reset_link(token: str) -> Response:
    """The emailed link: keep its secret in the session and go on to a URL without it."""
    return _private(_follow(token))


@bp.route("/auth/reset", methods=["GET", "POST"])
def reset() -> Response:
    """Choose a new password (for the link kept in the session): ends all old access."""
    return _private(_reset())


def _private(result: ResponseReturnValue) -> Response:
    response = make_response(result)
    # A secret was in the URL or is in the session: keep it out of Referer headers and caches.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _follow(token: str) -> ResponseReturnValue:
    if getattr(session, "unavailable", False):
        return _unavailable()
    try:
        user = _owner(storage.find(token, "reset"))
    except DYNAMO_ERRORS:
        log.warning("Could not check a password reset link", exc_info=True)
        return _unavailable()
    if user is None:
        return _expired()
    session[SESSION_KEY] = token
    return redirect(url_for(".reset"), 303)


def _reset() -> ResponseReturnValue:
    if getattr(session, "unavailable", False):
        return _unavailable()
    secret = session.get(SESSION_KEY)
    try:
        user = _owner(storage.find(secret, "reset")) if secret else None
    except DYNAMO_ERRORS:
        log.warning("Could not check a password reset link", exc_info=True)
        return _unavailable()
    if user is None:
        session.pop(SESSION_KEY, None)
        return _expired()
    form = ResetPasswordForm()
    valid = form.validate_on_submit()
    if valid and is_personal(form.password.data, (user.username, user.email)):
        form.password.errors.append(PERSONAL_MESSAGE)
        valid = False
    if not valid:
        return render_template("accounts/reset.html", form=form, user=user)
    return _save(user, secret, hash_password(form.password.data))


def _save(user: User, secret: str, password_hash: str) -> ResponseReturnValue:
    """End all old access, use the link up, then commit the new password, in that order.

    The order guarantees that a new password is never committed while old access lives, and
    keeps the link whenever it can:
    1. End the user's sessions and revoke their API tokens. This only takes access away, so it is
       safe even if a later step fails: the user logs in again with the unchanged password.
       A failure here leaves the link unused (try again).
    2. Consume the link: the one conditional delete that lets only one request through. Other
       reset links cannot go before it, as this link is one of them.
    3. Revoke the user's other reset links.
    4. Commit the new password (hashed beforehand, so steps 1-4 follow each other closely).
    A failure in 2-4 rolls back and leaves the password unchanged, with the link used up (ask for
    a new one). A log-in with the old password between 1 and 4 would survive, so after the commit
    the sweep of step 1 runs again: only a failure of that one is logged and not shown, as the
    password is changed and step 1 has already ended everything older.
    """
    try:
        _end_old_access(user)
        if storage.consume(secret, "reset") is None:  # used or expired since the find: race lost
            return _expired()
        storage.revoke_all(user.id, "reset")
        user.password_hash = password_hash
        db.session.commit()
    except (*DYNAMO_ERRORS, SQLAlchemyError):
        db.session.rollback()
        log.exception("Could not finish the password reset of user %s", user.id)
        # This browser keeps only the link (its session may have ended in step 1), for a retry.
        _forget_browser()
        session[SESSION_KEY] = secret
        return _unavailable(finishing=True)
    try:
        _end_old_access(user)
    except DYNAMO_ERRORS:
        log.exception(
            "Password of user %s changed; the second sweep of its sessions failed", user.id
        )
    notify_changed(user)
    # The failures counted against the old password are not the new password's fault.
    throttle.attempt_succeeded(
        throttle.account_subject(user.id, user.username), request.remote_addr
    )
    _forget_browser()  # this browser too, whoever was logged in on it
    flash(
        "Your password is changed and you're logged out everywhere. Log in with your new password.",
        "success",
    )
    return redirect(url_for(".login"))


def _end_old_access(user: User) -> None:
    """Every session and API token of the user ends (reset links: see ``_save``)."""
    end_sessions(user.id)
    storage.revoke_all(user.id, "api")


def _forget_browser() -> None:
    logout_user()
    session.clear()
    rotate()


def _owner(token: storage.Token | None) -> User | None:
    """The active user a live reset token belongs to."""
    if token is None or token.user_id is None:
        return None
    user = db.session.get(User, token.user_id)
    return user if user is not None and user.is_active else None


def _expired() -> ResponseReturnValue:
    return render_template("accounts/reset_expired.html", minutes=_minutes()), 410


def _unavailable(*, finishing: bool = False) -> ResponseReturnValue:
    page = render_template("accounts/reset_unavailable.html", finishing=finishing)
    return page, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
