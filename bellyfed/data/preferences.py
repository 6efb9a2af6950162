"""Diner preferences between PostgreSQL (``user_preferences`` + ``user_favourite_cuisines``) and
DynamoDB (the ``preferences`` table, ``preferences_store.py``): the move there, what both
directions share, and the assessment. The way back is ``preferences_back.py``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by

from bellyfed.accounts.models import User, UserPreferences, user_favourite_cuisines
from bellyfed.data import preferences_store as store
from bellyfed.data.dynamo_io import scan_all, write_if
from bellyfed.data.framework import Batch, Compared, Mover, Record, Rejected
from bellyfed.dynamo import resource, table, table_name
from bellyfed.extensions import db

PREFS = UserPreferences.__table__
FAVOURITES = user_favourite_cuisines
ONLY_PREFS = {"FilterExpression": "sk = :prefs", "ExpressionAttributeValues": {":prefs": "PREFS"}}
RECHECKS = 3  # rounds of "re-copy rows saved while the batch was in flight"
SKIPPED_AS_NEWER = "skipped as newer: DynamoDB's item was saved after this row; kept"


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
    """PostgreSQL → DynamoDB, in user id order (keyset pages), one conditional PutItem per row:
    an item newer than the row (saved in DynamoDB meanwhile) is never replaced."""

    kind, source, target = "preferences", "postgresql", "dynamodb"

    def __init__(self, put: Any = None, sleep: Any = None) -> None:
        self.put = put  # PutItem override (tests simulate throttling and races with it)
        self.sleep = sleep
        self.retries = 0
        self.kept_newer = 0  # items skipped because DynamoDB's was newer than the row

    def notes(self) -> list[str]:
        mode = store.mode()
        if mode == "dynamodb":
            raise MoveRefused(
                "PREFERENCES_STORE=dynamodb: DynamoDB is authoritative and newer; "
                "copying PostgreSQL over it would undo saves. Switch to dual first."
            )
        if mode == "postgresql" and not self.force:
            raise MoveRefused(
                "PREFERENCES_STORE=postgresql here, so the app presumably saves to PostgreSQL "
                "only: saves made during and after the move would not reach DynamoDB (no dual "
                "writes) and its copies would go stale. Set PREFERENCES_STORE as the app has it "
                "(dual for the move, docs/data-migration.md), or pass --force to copy anyway."
            )
        if mode == "postgresql":
            return [
                "PREFERENCES_STORE=postgresql (--force): saves after this run won't reach "
                "DynamoDB; items newer than PostgreSQL's rows are kept, not replaced."
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
        newer = self._put(by_user.values())
        # A diner who saved while this batch was in flight (dual mode: the save deletes the
        # item, commits, then writes it) may now have our older copy in DynamoDB, if the save's
        # own write failed: re-copy whatever PostgreSQL now holds for them.
        for _ in range(RECHECKS):  # READ COMMITTED: each query sees the latest commits
            now = {p.user_id: record(p) for p in postgres_rows(PREFS.c.user_id.in_(by_user))}
            changed = [r for uid, r in now.items() if r.digest != by_user[uid].digest]
            gone = [by_user[uid] for uid in by_user if uid not in now]
            if not changed and not gone:
                break
            touched = {r.key for r in changed} | {r.key for r in gone}
            newer = (newer - touched) | self._put(changed) | self._delete(gone)
            by_user = now
        self.kept_newer += len(newer)
        return [Rejected(key, SKIPPED_AS_NEWER) for key in sorted(newer)]

    def _put(self, records: Iterable[Record]) -> set[str]:
        """PutItem each record unless DynamoDB holds a newer item (ISO UTC strings of one
        fixed width compare as text); the keys skipped as newer."""
        skipped = set()
        for r in records:
            item = _item(r)
            if not self._write(
                self.put or table(store.TABLE).put_item,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR updated_at <= :u",
                ExpressionAttributeValues={":u": item["updated_at"]},
            ):
                skipped.add(r.key)
        return skipped

    def _delete(self, records: Iterable[Record]) -> set[str]:
        """Delete the items of rows deleted meanwhile unless saved in DynamoDB since; the keys
        skipped as newer."""
        skipped = set()
        for r in records:
            if not self._write(
                table(store.TABLE).delete_item,
                Key=store.key(r.fields["user_id"]),
                ConditionExpression="attribute_not_exists(pk) OR updated_at <= :u",
                ExpressionAttributeValues={":u": r.fields["updated_at"]},
            ):
                skipped.add(r.key)
        return skipped

    def _write(self, call: Any, **request: Any) -> bool:
        extra = {"sleep": self.sleep} if self.sleep else {}
        applied, retries = write_if(call, **request, **extra)
        self.retries += retries
        return applied

    def summary(self) -> list[str]:
        notes = []
        if self.kept_newer:
            notes.append(
                f"{self.kept_newer} item(s) skipped as newer (listed as rejected): DynamoDB "
                "holds saves PostgreSQL lacks (a process with PREFERENCES_STORE=dynamodb?); "
                "validation shows them as different."
            )
        if self.retries:
            notes.append(f"DynamoDB throttled writes {self.retries} time(s); all were resent.")
        return notes

    def source_records(self) -> Iterator[Compared]:
        yield from postgres_records()

    def target_records(self) -> Iterator[Record | Rejected]:
        yield from dynamo_records()


def _item(r: Record) -> dict[str, Any]:
    return store.StoredPreferences.from_item(r.fields).item()


def postgres_records(page: int = 2000) -> Iterator[Record]:
    """Every preferences row as a record, in user id order."""
    after = None
    while True:
        rows = postgres_rows(*([PREFS.c.user_id > after] if after else []), limit=page)
        yield from (record(p) for p in rows)
        if len(rows) < page:
            return
        after = rows[-1].user_id


def dynamo_items() -> Iterator[store.StoredPreferences | Rejected]:
    """Every preferences item; Rejected for one that is malformed (validation lists it)."""
    for item in scan_all(store.TABLE, **ONLY_PREFS):
        try:
            yield from_item(item)
        except Rejected as rejected:
            yield rejected


def dynamo_records() -> Iterator[Record | Rejected]:
    """Every preferences item as a record; Rejected for one that is malformed."""
    for item in dynamo_items():
        yield item if isinstance(item, Rejected) else record(item)


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
            "PostgreSQL keyset pages by user_id → one conditional PutItem per row (never "
            "over a newer item), then a re-read of the batch to re-copy rows saved meanwhile; "
            "back: Scan pages → upsert that keeps newer PostgreSQL rows",
        ),
    ]
