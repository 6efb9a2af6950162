"""The account page: a profile form and a preferences form, each saved on its own, and the
lists of sessions and API tokens (each left out or marked unavailable while DynamoDB is down).

Only the form that was sent reads the request; the other shows what is stored, so an error in
one never blanks the other.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import flash, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue

from bellyfed.accounts import tokens as api_tokens
from bellyfed.accounts import two_factor
from bellyfed.accounts.forms import PreferencesForm, ProfileForm
from bellyfed.accounts.models import User
from bellyfed.accounts.services import load_preferences, update_preferences, update_profile
from bellyfed.accounts.sessions import UNAVAILABLE, ServerSession, active_sessions
from bellyfed.extensions import db
from bellyfed.photos.services import PhotoRejected, PhotoStorageUnavailable

log = logging.getLogger(__name__)


def _profile_form(user: User, *, posted: bool) -> ProfileForm:
    if posted:
        return ProfileForm(prefix="profile", obj=user)
    return ProfileForm(prefix="profile", formdata=None, obj=user)


def _preferences_form(user: User, *, posted: bool) -> PreferencesForm:
    stored = load_preferences(user)
    data = {
        "favourite_cuisines": [c.id for c in stored.favourite_cuisines] if stored else [],
        "dietary_needs": list(stored.dietary_needs) if stored else [],
        "price_min": stored.price_min if stored else None,
        "price_max": stored.price_max if stored else None,
    }
    if posted:
        return PreferencesForm(prefix="preferences", data=data)
    return PreferencesForm(prefix="preferences", formdata=None, data=data)


def render_settings(
    user: User,
    *,
    profile_form: ProfileForm | None = None,
    preferences_form: PreferencesForm | None = None,
) -> ResponseReturnValue:
    """The page with both forms, either of them carrying the errors of a failed save."""
    return render_template(
        "accounts/settings.html",
        user=user,
        profile_form=profile_form or _profile_form(user, posted=False),
        preferences_form=preferences_form or _preferences_form(user, posted=False),
        sessions=_sessions(user),
        two_factor_on=two_factor.is_enabled(user),
        api_tokens=_api_tokens(user),
        api_token_limit=api_tokens.MAX_PER_USER,
    )


def _sessions(user: User) -> list[dict] | None:
    """The user's signed-in sessions; None without server-side sessions (or while unreachable)."""
    if not isinstance(session, ServerSession):
        return None
    try:
        return active_sessions(user.id)
    except UNAVAILABLE:
        log.warning("could not list sessions", exc_info=True)
        return None


def _api_tokens(user: User) -> list[dict[str, Any]] | None:
    """The user's API tokens for their card; None while DynamoDB is unreachable."""
    try:
        tokens = api_tokens.listed(user.id)
    except UNAVAILABLE:
        log.warning("could not list API tokens", exc_info=True)
        return None
    return [
        {
            "id": t.id,
            "name": t.name,
            "hint": t.hint,
            "created": _date(t.created_at),
            "last_used": _date(t.last_used_at) if t.last_used_at else None,
            "expires": _date(t.expires_at),
        }
        for t in tokens
    ]


def _date(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def save_settings(user: User, section: str) -> ResponseReturnValue:
    """Save the section that was sent, then come back to the page (or show what to fix)."""
    if section == "profile":
        return _save_profile(user)
    return _save_preferences(user)


def _save_profile(user: User) -> ResponseReturnValue:
    form = _profile_form(user, posted=True)
    if not form.validate():
        return render_settings(user, profile_form=form)
    try:
        update_profile(
            user,
            display_name=form.display_name.data,
            bio=form.bio.data or "",
            home_city_id=form.home_city_id.data,
            avatar=form.avatar.data,
            remove_avatar=form.remove_avatar.data,
        )
    except (PhotoRejected, PhotoStorageUnavailable) as exc:
        form.avatar.errors.append(str(exc))
        return render_settings(user, profile_form=form)
    db.session.commit()
    flash("Your profile is saved.", "success")
    return redirect(url_for("accounts.settings"))


def _save_preferences(user: User) -> ResponseReturnValue:
    form = _preferences_form(user, posted=True)
    if not form.validate():
        return render_settings(user, preferences_form=form)
    update_preferences(
        user,
        cuisine_ids=form.favourite_cuisines.data or [],
        dietary_needs=form.dietary_needs.data or [],
        price_min=form.price_min.data,
        price_max=form.price_max.data,
    )
    db.session.commit()
    flash("Your preferences are saved.", "success")
    return redirect(url_for("accounts.settings"))
