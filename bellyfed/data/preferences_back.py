"""Diner preferences, DynamoDB → PostgreSQL: the rollback of the move in ``preferences.py``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from bellyfed.accounts.models import User
from bellyfed.data import preferences_store as store
from bellyfed.data.dynamo_io import scan_page
from bellyfed.data.framework import Batch, Compared, Expected, Mover, Record, Rejected
from bellyfed.data.preferences import (
    FAVOURITES,
    ONLY_PREFS,
    PREFS,
    dynamo_items,
    from_item,
    postgres_records,
    record,
)
from bellyfed.dynamo import resource, table_name
from bellyfed.extensions import db
from bellyfed.restaurants.models import Cuisine

CHECK_PAGE = 500  # items whose users and cuisines validation looks up at once


class PreferencesToPostgres(Mover):
    """DynamoDB → PostgreSQL (the way back): upserts that never replace a newer row."""

    kind, source, target = "preferences", "dynamodb", "postgresql"

    def __init__(self) -> None:
        self.kept_newer = 0
        self.dropped_cuisines = 0

    def notes(self) -> list[str]:
        if store.mode() == "dynamodb":
            return [
                "PREFERENCES_STORE=dynamodb: saves after this run reach only DynamoDB; "
                "set it to dual before rolling back (docs/data-migration.md)."
            ]
        return []

    def estimate(self) -> int:
        client = resource().meta.client
        info = client.describe_table(TableName=table_name(store.TABLE))["Table"]
        return int(info.get("ItemCount", 0))

    def extract(self, position: Any, size: int) -> Batch:
        items, following, examined = scan_page(store.TABLE, position, size, **ONLY_PREFS)
        return Batch(items, following, examined)

    def transform(self, raw: Any) -> Record:
        return record(from_item(raw))

    def load(self, records: list[Record]) -> list[Rejected]:
        refused, rows = [], []
        for loaded in _as_loaded([from_item(r.fields) for r in records]):
            if isinstance(loaded, Expected) and loaded.record is None:
                refused.append(Rejected(loaded.key, loaded.reason))
                continue
            if isinstance(loaded, Expected):
                self.dropped_cuisines += 1
                loaded = loaded.record
            rows.append(from_item(loaded.fields))
        if rows:
            written = _upsert(rows)
            self.kept_newer += len(rows) - len(written)
            _replace_favourites([p for p in rows if p.user_id in written])
        return refused

    def summary(self) -> list[str]:
        notes = []
        if self.kept_newer:
            notes.append(f"{self.kept_newer} PostgreSQL row(s) were newer and kept.")
        if self.dropped_cuisines:
            notes.append(
                f"{self.dropped_cuisines} diner(s) named favourite cuisines that no longer "
                "exist; those were left out (`flask data validate` lists them)."
            )
        return notes

    def source_records(self) -> Iterator[Compared]:
        page: list[store.StoredPreferences] = []
        for item in dynamo_items():
            if isinstance(item, Rejected):
                yield item
                continue
            page.append(item)
            if len(page) == CHECK_PAGE:
                yield from _as_loaded(page)
                page = []
        yield from _as_loaded(page)

    def target_records(self) -> Iterator[Record]:
        yield from postgres_records()


def _as_loaded(rows: list[store.StoredPreferences]) -> list[Record | Expected]:
    """What the way back makes of these items: a record as is, or Expected (left out, its user
    is gone; or loaded without the favourite cuisines that no longer exist)."""
    if not rows:
        return []
    users = set(db.session.scalars(select(User.id).where(User.id.in_(p.user_id for p in rows))))
    named = {c for p in rows for c in p.cuisine_ids}
    cuisines = set(db.session.scalars(select(Cuisine.id).where(Cuisine.id.in_(named))))
    outcomes: list[Record | Expected] = []
    for p in rows:
        key = record(p).key
        gone = [c for c in p.cuisine_ids if c not in cuisines]
        if p.user_id not in users:
            outcomes.append(Expected(key, "the user no longer exists"))
        elif gone:
            kept = replace(p, cuisine_ids=tuple(c for c in p.cuisine_ids if c in cuisines))
            reason = f"favourite cuisine(s) {', '.join(map(str, gone))} no longer exist; left out"
            outcomes.append(Expected(key, reason, record(kept)))
        else:
            outcomes.append(record(p))
    return outcomes


def _upsert(rows: list[store.StoredPreferences]) -> set[int]:
    """Insert or update the preferences rows; the user ids actually written."""
    columns = ("price_min", "price_max", "dietary_needs", "updated_at")
    statement = pg_insert(PREFS).values(
        [{"user_id": p.user_id, **{c: getattr(p, c) for c in columns}} for p in rows]
    )
    statement = statement.on_conflict_do_update(
        index_elements=["user_id"],
        set_={c: statement.excluded[c] for c in columns},
        # Saved in PostgreSQL after DynamoDB's copy was taken (dual mode): keep the newer row.
        where=PREFS.c.updated_at <= statement.excluded.updated_at,
    )
    return set(db.session.scalars(statement.returning(PREFS.c.user_id)))


def _replace_favourites(rows: list[store.StoredPreferences]) -> None:
    """Set these diners' favourite cuisines (every one of them exists: ``_as_loaded``)."""
    if not rows:
        return
    db.session.execute(
        delete(FAVOURITES).where(FAVOURITES.c.user_id.in_([p.user_id for p in rows]))
    )
    links = [{"user_id": p.user_id, "cuisine_id": c} for p in rows for c in p.cuisine_ids]
    if links:
        db.session.execute(insert(FAVOURITES), links)
