"""Diner preferences in DynamoDB (the ``preferences`` table), and which store is authoritative.

Keys:
    PK  ``USER#<user id>``    SK  ``PREFS``
Attributes: ``user_id`` N · ``price_min``, ``price_max`` N (absent when unset) ·
``dietary_needs`` L of S (as saved) · ``cuisine_ids`` L of N (ascending) · ``updated_at`` S
(ISO 8601, UTC, microseconds: the same instant PostgreSQL holds, so checksums compare).

``PREFERENCES_STORE`` picks where the account services read and write:
``postgresql`` (before the move) · ``dual`` (write both, read DynamoDB falling back to
PostgreSQL) · ``dynamodb`` (after it), exactly so spelt (checked at start-up: ``check_setting``).
See docs/data-migration.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.exceptions import ServiceUnavailable

from bellyfed.config import ConfigError
from bellyfed.data.dynamo_io import plain
from bellyfed.dynamo import table

log = logging.getLogger(__name__)
TABLE = "preferences"
MODES = ("postgresql", "dual", "dynamodb")
UNAVAILABLE = (BotoCoreError, ClientError)
PENDING = "preferences_for_dynamodb"  # Session.info: {user_id: StoredPreferences} until commit


class BadPreferencesStore(ConfigError):
    """``PREFERENCES_STORE`` names no known mode."""


class PreferencesUnavailable(ServiceUnavailable):
    """DynamoDB could not take a preferences write; nothing was saved (a 503 page)."""

    description = "Saving preferences is briefly unavailable. Please try again in a minute."


@dataclass(frozen=True)
class StoredPreferences:
    """One diner's preferences as either store holds them."""

    user_id: int
    price_min: int | None
    price_max: int | None
    dietary_needs: tuple[str, ...]
    cuisine_ids: tuple[int, ...]
    updated_at: datetime

    def fields(self) -> dict[str, Any]:
        """The canonical, JSON-able form (for items and checksums)."""
        return {
            "user_id": self.user_id,
            "price_min": self.price_min,
            "price_max": self.price_max,
            "dietary_needs": list(self.dietary_needs),
            "cuisine_ids": sorted(self.cuisine_ids),
            "updated_at": self.updated_at.astimezone(UTC).isoformat(timespec="microseconds"),
        }

    def item(self) -> dict[str, Any]:
        """The DynamoDB item (unset prices left out rather than stored as NULL)."""
        values = {k: v for k, v in self.fields().items() if v is not None}
        return {"pk": key(self.user_id)["pk"], "sk": "PREFS", **values}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> StoredPreferences:
        values = plain(item)
        return cls(
            user_id=values["user_id"],
            price_min=values.get("price_min"),
            price_max=values.get("price_max"),
            dietary_needs=tuple(values.get("dietary_needs", ())),
            cuisine_ids=tuple(sorted(values.get("cuisine_ids", ()))),
            updated_at=datetime.fromisoformat(values["updated_at"]),
        )


def key(user_id: int) -> dict[str, str]:
    return {"pk": f"USER#{user_id}", "sk": "PREFS"}


def check_setting(config: Mapping[str, Any]) -> str:
    """The configured store; BadPreferencesStore (a ConfigError) unless it is exactly one of
    MODES. No case or space folding: what the app runs with must read the same everywhere."""
    value = config.get("PREFERENCES_STORE", "postgresql")
    if value not in MODES:
        raise BadPreferencesStore(
            f"PREFERENCES_STORE must be one of {', '.join(MODES)}, not {value!r}"
        )
    return value


def mode() -> str:
    """The configured store; a typo fails loudly instead of silently meaning "postgresql"."""
    return check_setting(current_app.config)


def get(user_id: int) -> StoredPreferences | None:
    """A diner's preferences from DynamoDB (consistent: the page after a save shows it)."""
    item = table(TABLE).get_item(Key=key(user_id), ConsistentRead=True).get("Item")
    return StoredPreferences.from_item(item) if item else None


def put(preferences: StoredPreferences) -> None:
    """Write a diner's preferences; PreferencesUnavailable if DynamoDB refuses."""
    try:
        table(TABLE).put_item(Item=preferences.item())
    except UNAVAILABLE as exc:
        raise PreferencesUnavailable() from exc


def forget(user_id: int) -> None:
    """Delete a diner's item; PreferencesUnavailable if DynamoDB refuses."""
    try:
        table(TABLE).delete_item(Key=key(user_id))
    except UNAVAILABLE as exc:
        raise PreferencesUnavailable() from exc


def put_after_commit(session: Session, preferences: StoredPreferences) -> None:
    """Write the item once ``session`` commits (dual mode: PostgreSQL first, then DynamoDB)."""
    session.info.setdefault(PENDING, {})[preferences.user_id] = preferences


@event.listens_for(Session, "after_commit")
def _write_pending(session: Session) -> None:
    pending = session.info.pop(PENDING, None)
    if not pending or not has_app_context():
        return
    for preferences in pending.values():
        try:
            put(preferences)
        except PreferencesUnavailable:
            log.exception("preferences of user %s not copied to DynamoDB", preferences.user_id)
            _forget_after_failed_put(preferences.user_id)


def _forget_after_failed_put(user_id: int) -> None:
    """Delete the item again, so reads fall back to PostgreSQL (which has the new values).

    The save deleted it before the commit, but a move may have copied this diner's older row in
    since (its conditional put lands while the item is absent). A copy put after our commit is
    replaced by the move itself (it re-reads its rows after writing them); one put before it is
    removed here. Best effort: if DynamoDB refuses this too, that old copy may be served until
    the next save or a re-run of the move, and the log says so.
    """
    try:
        forget(user_id)
    except PreferencesUnavailable:
        log.exception(
            "preferences of user %s: DynamoDB may serve an older copy until the next save or "
            "a re-run of the move (delete item USER#%s to fall back to PostgreSQL now)",
            user_id,
            user_id,
        )


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(PENDING, None)
