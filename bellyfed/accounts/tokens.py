"""API tokens: what a diner creates in account settings and sends as ``Authorization: Bearer``.

Storage is ``bellyfed.dynamo.tokens`` (hashed, with a TTL). A token acts as its owner for the API's
writes; it stops working when it expires, when the owner revokes it, when the owner's password is
reset, or when the account is deactivated.
"""

from __future__ import annotations

from dataclasses import dataclass

from bellyfed.accounts.models import User
from bellyfed.dynamo import tokens as storage
from bellyfed.extensions import db

DAY = 24 * 60 * 60
LIFETIMES = {30: "30 days", 90: "90 days", 365: "1 year"}  # days -> label
DEFAULT_LIFETIME = 90
MAX_PER_USER = 10
NAME_CHARS = 60


class TooManyTokens(Exception):
    """The user already holds ``MAX_PER_USER`` live tokens."""

    def __init__(self) -> None:
        super().__init__(
            f"You already have {MAX_PER_USER} API tokens. Revoke one you no longer use first."
        )


@dataclass(frozen=True)
class Caller:
    """Who an API request acts for."""

    user: User
    token: storage.Token


def create(user: User, name: str, days: int) -> tuple[str, storage.Token]:
    """A new API token for the user; the secret is returned once and never stored."""
    if days not in LIFETIMES:
        raise ValueError(f"an API token lives {', '.join(map(str, LIFETIMES))} days, not {days}")
    name = " ".join(name.split())[:NAME_CHARS]
    if not name:
        raise ValueError("an API token needs a name")
    if len(storage.for_user(user.id, "api")) >= MAX_PER_USER:
        raise TooManyTokens
    return storage.issue("api", user.id, days * DAY, name=name)


def listed(user_id: int) -> list[storage.Token]:
    """The user's live API tokens, newest first."""
    return storage.for_user(user_id, "api")


def revoke(user_id: int, token_id: str) -> bool:
    """End one of the user's API tokens; False when it was not theirs or already gone."""
    return storage.revoke(user_id, token_id, "api")


def authenticate(secret: str) -> Caller | None:
    """The caller a bearer secret stands for, or None (unknown, revoked, expired, inactive user)."""
    if not secret.startswith(storage.PREFIXES["api"]):
        return None
    token = storage.find(secret, "api")
    if token is None or token.user_id is None:
        return None
    user = db.session.get(User, token.user_id)
    if user is None or not user.is_active:
        return None
    storage.touch(token)
    return Caller(user, token)
