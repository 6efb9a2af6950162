"""Account operations: sign-up, password check, profile and preferences. Callers commit."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from bellyfed.accounts.models import User, UserPreferences
from bellyfed.accounts.passwords import (
    current_pepper_id,
    hash_password,
    needs_rehash,
    verify_password,
)
from bellyfed.core.vocab import DIETARY_TAGS
from bellyfed.data import preferences_store
from bellyfed.extensions import db
from bellyfed.photos.models import Photo
from bellyfed.photos.services import delete_photo, is_empty_upload, save_upload
from bellyfed.restaurants.models import Cuisine
from bellyfed.search.versions import mark_changed

log = logging.getLogger(__name__)

# The database's unique constraints, and what to tell someone who lost the race for them.
CONFLICT_MESSAGES = {
    "uq_users_username": ("username", "That username is taken. Try another."),
    "uq_users_email_lower": ("email", "An account with that email already exists. Try logging in."),
}


class RegistrationConflictError(Exception):
    """The username or email was taken between the form's check and our insert."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def register_user(*, username: str, email: str, display_name: str, password: str) -> User:
    """A new diner account, logged in from now; RegistrationConflictError if a name is taken."""
    user = User(
        username=username,
        email=email,
        display_name=display_name,
        password_hash=hash_password(password),
        last_login_at=datetime.now(UTC),
    )
    try:
        with db.session.begin_nested():  # a savepoint, so the caller's transaction survives
            db.session.add(user)
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
        if constraint not in CONFLICT_MESSAGES:
            raise
        raise RegistrationConflictError(*CONFLICT_MESSAGES[constraint]) from exc
    return user


def find_account(identifier: str) -> User | None:
    """The account a username or an email (any case) belongs to."""
    identifier = identifier.strip().lower()
    if "@" in identifier:
        query = select(User).where(func.lower(User.email) == identifier)
    else:
        query = select(User).where(User.username == identifier)
    return db.session.scalar(query)


def _dummy_hash() -> str:
    """A hash under the current pepper, so an unknown account takes the same path as a known
    one (a process may hold apps with different peppers: tests, the CLI beside the web app)."""
    return _dummy_hash_for(current_pepper_id())


@cache
def _dummy_hash_for(pepper_id: str) -> str:  # the cache key: the id hash_password uses now
    return hash_password(secrets.token_urlsafe(16))


def authenticate(user: User | None, password: str) -> User | None:
    """``user`` when ``password`` is theirs and the account is active, else None."""
    if user is None:
        # Still one argon2 verification, so response times don't tell which accounts exist.
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password) or not user.is_active:
        return None
    if needs_rehash(user.password_hash):  # made with older parameters: upgrade while we can
        user.password_hash = hash_password(password)
    user.last_login_at = datetime.now(UTC)
    return user


def update_profile(
    user: User,
    *,
    display_name: str,
    bio: str,
    home_city_id: int | None,
    avatar: FileStorage | None = None,
    remove_avatar: bool = False,
) -> None:
    """Change what other diners see; PhotoRejected/PhotoStorageUnavailable from a bad avatar."""
    # The avatar goes first, so that when the photos service refuses it nothing has changed.
    if not is_empty_upload(avatar):
        photo = save_upload(avatar, uploader_id=user.id, alt_text=f"{display_name}'s avatar")
        _replace_avatar(user, photo.id)
    elif remove_avatar:
        _replace_avatar(user, None)
    if display_name != user.display_name:
        mark_changed()  # reviews in cached API answers show the author's name
    user.display_name = display_name
    user.bio = bio
    user.home_city_id = home_city_id


def _replace_avatar(user: User, photo_id: int | None) -> None:
    old = db.session.get(Photo, user.avatar_photo_id) if user.avatar_photo_id else None
    user.avatar_photo_id = photo_id
    # The old image goes too (a removed avatar should not linger in storage), unless it is
    # someone else's or belongs to a review.
    if old is not None and old.uploader_id == user.id and old.review_id is None:
        delete_photo(old)


@dataclass(frozen=True)
class Preferences:
    """A diner's preferences, from whichever store ``PREFERENCES_STORE`` reads."""

    price_min: int | None
    price_max: int | None
    dietary_needs: list[str]
    favourite_cuisines: list[Cuisine]


def load_preferences(user: User) -> Preferences | None:
    """``user``'s preferences (None: never saved). ``dual`` reads DynamoDB and falls back to
    PostgreSQL for diners not copied yet (or while DynamoDB is down); ``dynamodb`` reads only it."""
    mode = preferences_store.mode()
    if mode == "postgresql":
        return _from_postgresql(user)
    try:
        stored = preferences_store.get(user.id)
    except preferences_store.UNAVAILABLE:
        log.warning("preferences unavailable in DynamoDB (%s mode)", mode, exc_info=True)
        return _from_postgresql(user) if mode == "dual" else None
    if stored is None:
        return _from_postgresql(user) if mode == "dual" else None
    favourites = []
    if stored.cuisine_ids:  # cuisines stay in PostgreSQL: names and slugs by primary key
        query = select(Cuisine).where(Cuisine.id.in_(stored.cuisine_ids)).order_by(Cuisine.name)
        favourites = list(db.session.scalars(query))
    return Preferences(stored.price_min, stored.price_max, list(stored.dietary_needs), favourites)


def _from_postgresql(user: User) -> Preferences | None:
    row = user.preferences
    if row is None:
        return None
    return Preferences(row.price_min, row.price_max, list(row.dietary_needs),
                       list(row.favourite_cuisines))  # fmt: skip


def update_preferences(
    user: User,
    *,
    cuisine_ids: Iterable[int],
    dietary_needs: Iterable[str],
    price_min: int | None,
    price_max: int | None,
) -> Preferences:
    """Replace ``user``'s preferences in the configured store(s); PreferencesUnavailable (a 503)
    if DynamoDB must be written and can't be, in which case nothing changed."""
    mode = preferences_store.mode()
    cuisines = select(Cuisine).where(Cuisine.id.in_(set(cuisine_ids))).order_by(Cuisine.name)
    favourites = list(db.session.scalars(cuisines))
    chosen = set(dietary_needs)
    needs = [tag for tag in DIETARY_TAGS if tag in chosen]
    stored = preferences_store.StoredPreferences(
        user.id, price_min, price_max, tuple(needs), tuple(sorted(c.id for c in favourites)),
        datetime.now(UTC),
    )  # fmt: skip
    if mode == "dynamodb":
        preferences_store.put(stored)
        return Preferences(price_min, price_max, needs, favourites)
    if mode == "dual":
        # Delete now, write after the commit: whatever fails in between, the item is either
        # absent (reads fall back to PostgreSQL) or new; never an old copy served as current.
        preferences_store.forget(user.id)
        preferences_store.put_after_commit(db.session(), stored)
    preferences = user.preferences
    if preferences is None:
        preferences = user.preferences = UserPreferences()
    preferences.favourite_cuisines = favourites
    preferences.dietary_needs = needs
    preferences.price_min = price_min
    preferences.price_max = price_max
    preferences.updated_at = stored.updated_at  # the same instant DynamoDB gets
    return Preferences(price_min, price_max, needs, favourites)
