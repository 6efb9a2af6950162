"""Diner preferences between PostgreSQL (``user_preferences`` + ``user_favourite_cuisines``) and
DynamoDB (the ``preferences`` table, ``preferences_store.py``), in both directions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert

from bellyfed.accounts.models import User, UserPreferences, user_favourite_cuisines
from bellyfed.data import preferences_store as store
from bellyfed.data.dynamo_io import batch_write, scan_all, scan_page
from bellyfed.data.framework import Batch, Mover, Record, Rejected
from bellyfed.dynamo import resource, table_name
from bellyfed.extensions import db
from bellyfed.restaurants.models import Cuisine

PREFS = UserPreferences.__table__
FAVOURITES = user_favourite_cuisines
ONLY_PREFS = {"FilterExpression": "sk = :prefs", "ExpressionAttributeValues": {":prefs": "PREFS"}}
RECHECKS = 3  # rounds of "re-copy rows saved while the batch was in flight"


class MoveRefused(RuntimeError):
    """The service switch is in a mode where this move would overwrite newer data."""


def _cuisine_ids() -> Any:
    ordered = aggregate_order_by(FAVOURITES.c.cuisine_id, FAVOURITES.c.cuisine_id)
    return (
        select(func.coalesce(func.array_agg(ordered), text("'{}'::bigint[]")))
        .where(FAVOURITES.c.user_id == PREFS.c.user_id)
        .scalar_subquery()
    )


def postgres_rows(*conditions: Any, limit: int | None = None) -> list[store.StoredPreferences]:
    """Preferences rows (with their favourite cuisines) in user id order."""
    query = (
        select(
            PREFS.c.user_id,
            PREFS.c.price_min,
            PREFS.c.price_max,
            PREFS.c.dietary_needs,
            _cuisine_ids(),
            PREFS.c.updated_at,
        )
        .where(*conditions)
        .order_by(PREFS.c.user_id)
        .limit(limit)
    )
    return [
        store.StoredPreferences(uid, low, high, tuple(needs), tuple(ids), updated)
        for uid, low, high, needs, ids, updated in db.session.execute(query)
    ]


def record(preferences: store.StoredPreferences) -> Record:
    return Record(f"user:{preferences.user_id}", preferences.fields())


def from_item(item: dict[str, Any]) -> store.StoredPreferences:
    """The preferences of an item; Rejected if it is malformed."""
    try:
        return store.StoredPreferences.from_item(item)
    except (KeyError, TypeError, ValueError) as exc:
        raise Rejected(str(item.get("pk")), f"malformed preferences item ({exc!r})") from None


class PreferencesToDynamo(Mover):
    """PostgreSQL → DynamoDB, in user id order (keyset pages), BatchWriteItem puts."""

    kind, source, target = "preferences", "postgresql", "dynamodb"

    def __init__(self, write: Any = None, sleep: Any = None) -> None:
        self.write = write  # BatchWriteItem override (tests simulate throttling with it)
        self.sleep = sleep
        self.retries = 0

    def notes(self) -> list[str]:
        mode = store.mode()
        if mode == "dynamodb":
            raise MoveRefused(
                "PREFERENCES_STORE=dynamodb: DynamoDB is authoritative and newer; "
                "copying PostgreSQL over it would undo saves. Switch to dual first."
            )
        if mode == "postgresql":
            return [
                "PREFERENCES_STORE=postgresql: saves after this run won't reach DynamoDB "
                "(set it to dual before the move, see docs/data-migration.md)."
            ]
        return []

    def estimate(self) -> int:
        return db.session.scalar(select(func.count()).select_from(PREFS)) or 0

    def extract(self, position: Any, size: int) -> Batch:
        after = [PREFS.c.user_id > position] if position is not None else []
        rows = postgres_rows(*after, limit=size)
        following = rows[-1].user_id if len(rows) == size else None
        return Batch(rows, following, len(rows))

    def transform(self, raw: Any) -> Record:
        return record(raw)

    def load(self, records: list[Record]) -> list[Rejected]:
        by_user = {r.fields["user_id"]: r for r in records}
        self._put(list(by_user.values()))
        # A diner who saved while this batch was in flight may have had their new item
        # overwritten by our older copy: re-copy whatever PostgreSQL now holds for them.
        for _ in range(RECHECKS):  # READ COMMITTED: each query sees the latest commits
            now = {p.user_id: record(p) for p in postgres_rows(PREFS.c.user_id.in_(by_user))}
            changed = [r for uid, r in now.items() if r.digest != by_user[uid].digest]
            gone = [uid for uid in by_user if uid not in now]
            if not changed and not gone:
                break
            self._put(changed, deletes=gone)
            by_user = now
        return []

    def _put(self, records: Sequence[Record], deletes: Sequence[int] = ()) -> None:
        requests = [{"PutRequest": {"Item": _item(r)}} for r in records]
        requests += [{"DeleteRequest": {"Key": store.key(uid)}} for uid in deletes]
        extra = {"sleep": self.sleep} if self.sleep else {}
        self.retries += batch_write(store.TABLE, requests, write=self.write, **extra)

    def summary(self) -> list[str]:
        if not self.retries:
            return []
        return [f"DynamoDB handed items back {self.retries} time(s); all were resent."]

    def source_records(self) -> Iterator[Record]:
        yield from _postgres_records()

    def target_records(self) -> Iterator[Record]:
        yield from _dynamo_records()


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
        ids = [r.fields["user_id"] for r in records]
        users = set(db.session.scalars(select(User.id).where(User.id.in_(ids)))) if ids else set()
        refused = [Rejected(r.key, "the user no longer exists") for r in records
                   if r.fields["user_id"] not in users]  # fmt: skip
        rows = [from_item(r.fields) for r in records if r.fields["user_id"] in users]
        if rows:
            written = _upsert(rows)
            self.kept_newer += len(rows) - len(written)
            self.dropped_cuisines += _replace_favourites([p for p in rows if p.user_id in written])
        return refused

    def summary(self) -> list[str]:
        notes = []
        if self.kept_newer:
            notes.append(f"{self.kept_newer} PostgreSQL row(s) were newer and kept.")
        if self.dropped_cuisines:
            notes.append(f"{self.dropped_cuisines} favourite cuisine(s) no longer exist; left out.")
        return notes

    def source_records(self) -> Iterator[Record]:
        yield from _dynamo_records()

    def target_records(self) -> Iterator[Record]:
        yield from _postgres_records()


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


def _replace_favourites(rows: list[store.StoredPreferences]) -> int:
    """Set these diners' favourite cuisines; how many named cuisines no longer exist."""
    if not rows:
        return 0
    wanted = {c for p in rows for c in p.cuisine_ids}
    known = set(db.session.scalars(select(Cuisine.id).where(Cuisine.id.in_(wanted))))
    db.session.execute(
        delete(FAVOURITES).where(FAVOURITES.c.user_id.in_([p.user_id for p in rows]))
    )
    links = [{"user_id": p.user_id, "cuisine_id": c} for p in rows for c in p.cuisine_ids
             if c in known]  # fmt: skip
    if links:
        db.session.execute(insert(FAVOURITES), links)
    return len(wanted - known)


def _item(r: Record) -> dict[str, Any]:
    return store.StoredPreferences.from_item(r.fields).item()


def _postgres_records(page: int = 2000) -> Iterator[Record]:
    after = None
    while True:
        rows = postgres_rows(*([PREFS.c.user_id > after] if after else []), limit=page)
        yield from (record(p) for p in rows)
        if len(rows) < page:
            return
        after = rows[-1].user_id


def _dynamo_records() -> Iterator[Record]:
    for item in scan_all(store.TABLE, **ONLY_PREFS):
        try:
            yield record(from_item(item))
        except Rejected:
            continue  # never loadable; assess and migrate list them


def assess() -> list[tuple[str, Any]]:
    """Counts, sizes and access-pattern notes for the preferences move (both stores)."""
    rows = db.session.scalar(select(func.count()).select_from(PREFS))
    links = db.session.scalar(select(func.count()).select_from(FAVOURITES))
    users = db.session.scalar(select(func.count()).select_from(User))
    sizes = func.pg_total_relation_size("user_preferences") + func.pg_total_relation_size(
        "user_favourite_cuisines"
    )
    pg_bytes = db.session.scalar(select(sizes))
    db.session.rollback()
    client = resource().meta.client
    info = client.describe_table(TableName=table_name(store.TABLE))["Table"]
    sample = [len(str(item)) for item in islice(scan_all(store.TABLE, **ONLY_PREFS), 200)]
    item_size = sum(sample) // len(sample) if sample else 0
    per_diner = links / rows if rows else 0
    dynamo = f"{info['TableName']}: {info.get('ItemCount', 0)} items, "
    dynamo += f"{info.get('TableSizeBytes', 0)} bytes"
    if sample:
        dynamo += f", ~{item_size} bytes per item (sample of {len(sample)})"
    return [
        ("service switch", f"PREFERENCES_STORE={store.mode()}"),
        (
            "postgresql",
            f"{rows} preferences rows of {users} users, {links} favourite cuisines "
            f"({per_diner:.1f} per diner), {pg_bytes} bytes with indexes",
        ),
        ("dynamodb", dynamo),
        (
            "reads",
            "every signed-in home and search page: GetItem USER#<id>/PREFS, consistent "
            "(1 RCU under 4 KB); one primary-key query for the cuisines' names",
        ),
        ("writes", "a settings save: PutItem (1 WCU under 1 KB); dual mode also writes PostgreSQL"),
        (
            "move",
            "PostgreSQL keyset pages by user_id → BatchWriteItem (25 puts per request), "
            "then a re-read of the batch to re-copy rows saved meanwhile; "
            "back: Scan pages → upsert that keeps newer PostgreSQL rows",
        ),
    ]
