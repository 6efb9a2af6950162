"""API tokens in account settings: a short wizard to create one, the list, revoking.

The wizard's choices live in a "state" token (``bellyfed.dynamo.tokens``) for
``FORM_STATE_SECONDS``: step 1 stores them, step 2 shows them and asks for the password, and
confirming *consumes* the state, so a double submit creates one API token, not two. The state's
secret travels in the URL; it is worth nothing to anybody but its owner.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from botocore.exceptions import ClientError
from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from bellyfed.accounts import bp, throttle
from bellyfed.accounts import tokens as api_tokens
from bellyfed.accounts.passwords import verify_password
from bellyfed.accounts.sessions import UNAVAILABLE
from bellyfed.accounts.token_forms import TokenConfirmForm, TokenDetailsForm
from bellyfed.dynamo import tokens as storage

log = logging.getLogger(__name__)
FORM = "api-token"  # marks the wizard's state, so another form's state never passes for it
UNAVAILABLE_MESSAGE = "API tokens are briefly unavailable, try again shortly."
BAD_CONFIRMATION = "That isn't your password. Try again."
TOKEN_ID = re.compile(r"[0-9a-f]{64}")  # a SHA-256 digest, as the list shows it


def tokens_available(
    view: Callable[..., ResponseReturnValue],
) -> Callable[..., ResponseReturnValue]:
    """Turn a DynamoDB outage inside the view into a 503 page that says so."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        try:
            return view(*args, **kwargs)
        except UNAVAILABLE:
            log.warning("API tokens unavailable", exc_info=True)
            page = render_template(
                "errors/error.html", code=503, title="API tokens unavailable",
                message=UNAVAILABLE_MESSAGE,
            )  # fmt: skip
            return page, 503

    return wrapper


def _state(secret: str) -> storage.Token | None:
    """The wizard's live state under ``secret``, if it belongs to the current user."""
    token = storage.find(secret, "state")
    if token is None or token.user_id != current_user.id:
        return None
    data = token.data if isinstance(token.data, dict) else {}
    valid = data.get("form") == FORM and data.get("days") in api_tokens.LIFETIMES
    return token if valid and isinstance(data.get("name"), str) else None


def _replaced(state: storage.Token, choices: dict[str, Any]) -> bool:
    """Store new choices in a live state; False when it expired in the meantime."""
    try:
        storage.replace_data(state, choices)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _date(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@bp.route("/account/tokens/new", methods=["GET", "POST"])
@login_required
@tokens_available
def new_token() -> ResponseReturnValue:
    """Step 1: name the token and choose its lifetime (prefilled when coming back from step 2)."""
    secret = request.args.get("state", "")
    state = _state(secret) if secret else None
    form = TokenDetailsForm(data=state.data if state else None)
    if not form.validate_on_submit():
        page = render_template(
            "accounts/token_new.html", form=form, state=secret if state else None
        )
        return page, 422 if form.is_submitted() else 200
    choices = {"form": FORM, "name": form.name.data, "days": form.days.data}
    if state is None or not _replaced(state, choices):
        seconds = current_app.config["FORM_STATE_SECONDS"]
        secret, _ = storage.issue("state", current_user.id, seconds, data=choices)
    return redirect(url_for(".confirm_token", state=secret))


def _confirm_page(
    form: TokenConfirmForm, secret: str, choices: dict[str, Any], status: int = 200,
    headers: dict[str, str] | None = None,
) -> ResponseReturnValue:  # fmt: skip
    page = render_template(
        "accounts/token_confirm.html", form=form, state=secret, name=choices["name"],
        lifetime=api_tokens.LIFETIMES[choices["days"]],
        expires=_date(time.time() + choices["days"] * api_tokens.DAY),
    )  # fmt: skip
    return page, status, headers or {}


def _expired(*, used: bool = False) -> ResponseReturnValue:
    return render_template("accounts/token_expired.html", used=used), 410


@bp.route("/account/tokens/new/<state>", methods=["GET", "POST"])
@login_required
@tokens_available
def confirm_token(state: str) -> ResponseReturnValue:
    """Step 2: what will be created; the current password confirms it (a sensitive action)."""
    stored = _state(state)
    if stored is None:
        return _expired()
    form = TokenConfirmForm()
    if not form.validate_on_submit():
        return _confirm_page(form, state, stored.data, 422 if form.is_submitted() else 200)
    user = current_user._get_current_object()
    # Guesses here count with failed logins: a borrowed session must not test passwords freely.
    subject = throttle.account_subject(user.id, user.username)
    refusal = throttle.take_attempt(subject, request.remote_addr)
    if refusal is not None:
        form.password.errors.append(refusal.message)
        return _confirm_page(
            form, state, stored.data, 429, {"Retry-After": str(refusal.retry_after)}
        )
    if not verify_password(user.password_hash, form.password.data):
        form.password.errors.append(BAD_CONFIRMATION)
        return _confirm_page(form, state, stored.data, 422)
    throttle.attempt_succeeded(subject, request.remote_addr)
    if storage.consume(state, "state") is None:
        return _expired(used=True)  # a second submit of the same form lost the race
    try:
        secret, token = api_tokens.create(user, stored.data["name"], stored.data["days"])
    except api_tokens.TooManyTokens as exc:
        flash(str(exc), "error")
        return redirect(url_for(".settings"))
    page = render_template(
        "accounts/token_created.html", secret=secret, token=token,
        expires=_date(token.expires_at),
        api_url=url_for("restaurants.index", _external=True) + "api/v1/restaurants",
    )  # fmt: skip
    # The secret is shown once: no browser or proxy may keep a copy of this page.
    return page, 200, {"Cache-Control": "no-store"}


@bp.post("/account/tokens/<token_id>/revoke")
@login_required
def revoke_token(token_id: str) -> ResponseReturnValue:
    """End one of the user's API tokens; anything else is reported as already gone."""
    try:
        revoked = bool(TOKEN_ID.fullmatch(token_id)) and api_tokens.revoke(
            current_user.id, token_id
        )
    except UNAVAILABLE:
        log.warning("could not revoke an API token", exc_info=True)
        flash(UNAVAILABLE_MESSAGE, "error")
    else:
        if revoked:
            flash("That token is revoked: requests sending it are refused from now on.", "success")
        else:
            flash("That token was already revoked (or has expired).", "success")
    return redirect(url_for(".settings"))
