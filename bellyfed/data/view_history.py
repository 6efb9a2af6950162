"""View history: the analytics table's daily view buckets, DynamoDB → PostgreSQL (``view_history``).

Source items (``bellyfed/dynamo/counters.py``): ``pk = view#<entity type>:<id>``,
``sk = D#<day>``, ``n`` the day's views. Only *settled* days move: the daily rollup rewrites
today's and yesterday's buckets (``analytics/rollups.py::rollup_recent``), so a copy of them
would be stale within minutes and validation would flag it. A later run picks them up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from bellyfed.data.dynamo_io import scan_all, scan_page
from bellyfed.data.framework import Batch, Compared, Mover, Record, Rejected
from bellyfed.data.models import ViewHistory
from bellyfed.dynamo import resource, table_name
from bellyfed.extensions import db

TABLE = "analytics"
PREFIX = "view#"


def first_unsettled_day() -> date:
    """Yesterday (UTC): its bucket and today's are still being rewritten by the rollup."""
    return datetime.now(UTC).date() - timedelta(days=1)


def _filter(before: date | None) -> Any:
    condition = Attr("pk").begins_with(PREFIX) & Attr("sk").begins_with("D#")
    return condition & Attr("sk").lt(f"D#{before.isoformat()}") if before else condition


def parse(item: dict[str, Any]) -> Record:
    """The record of one day bucket; Rejected when its key is not ``view#<type>:<id>``."""
    pk, sk = item["pk"], item["sk"]
    key = f"{pk} {sk}"
    entity_type, _, entity_id = pk.removeprefix(PREFIX).partition(":")
    if not entity_type or not entity_id.isdigit():
        raise Rejected(key, "not view#<entity type>:<numeric id>")
    try:
        day = date.fromisoformat(sk.removeprefix("D#"))
    except ValueError:
        raise Rejected(key, "the sort key is not D#<YYYY-MM-DD>") from None
    return _record(entity_type, int(entity_id), day, int(item.get("n", 0)))


def _record(entity_type: str, entity_id: int, day: date, views: int) -> Record:
    fields = {
        "entity_type": entity_type,
        "entity_id": entity_id,
        "day": day.isoformat(),
        "views": views,
    }
    return Record(f"{entity_type}:{entity_id}@{day.isoformat()}", fields)


class ViewHistoryToPostgres(Mover):
    """Settled daily view buckets, upserted into ``view_history`` (re-runs overwrite)."""

    kind, source, target = "view-history", "dynamodb", "postgresql"

    def __init__(self, before: date | None = None) -> None:
        self.before = before or first_unsettled_day()

    def estimate(self) -> int:
        client = resource().meta.client
        return int(client.describe_table(TableName=table_name(TABLE))["Table"].get("ItemCount", 0))

    def notes(self) -> list[str]:
        return [
            f"Days before {self.before.isoformat()} move; later ones are still being rolled up."
        ]

    def extract(self, position: Any, size: int) -> Batch:
        items, following, examined = scan_page(
            TABLE, position, size, FilterExpression=_filter(self.before)
        )
        return Batch(items, following, examined)

    def transform(self, raw: Any) -> Record:
        return parse(raw)

    def load(self, records: list[Record]) -> list[Rejected]:
        if not records:
            return []
        statement = insert(ViewHistory).values(
            [{**r.fields, "day": date.fromisoformat(r.fields["day"])} for r in records]
        )
        db.session.execute(
            statement.on_conflict_do_update(
                index_elements=["entity_type", "entity_id", "day"],
                set_={"views": statement.excluded.views, "copied_at": func.now()},
            )
        )
        return []

    def source_records(self) -> Iterator[Compared]:
        for item in scan_all(TABLE, FilterExpression=_filter(self.before)):
            try:
                yield parse(item)
            except Rejected as unreadable:
                yield unreadable  # never moved: validation fails until it is fixed or deleted

    def target_records(self) -> Iterator[Record]:
        columns = (
            ViewHistory.entity_type,
            ViewHistory.entity_id,
            ViewHistory.day,
            ViewHistory.views,
        )
        rows = db.session.execute(select(*columns).execution_options(yield_per=2000))
        for entity_type, entity_id, day, views in rows:
            yield _record(entity_type, entity_id, day, views)


def assess() -> list[tuple[str, Any]]:
    """Counts, sizes and access-pattern notes for a view-history move (one full Scan)."""
    client = resource().meta.client
    info = client.describe_table(TableName=table_name(TABLE))["Table"]
    before = first_unsettled_day()
    settled, unsettled, rejected, views = 0, 0, 0, 0
    types: Counter[str] = Counter()
    entities: set[str] = set()
    first = last = None
    for item in scan_all(TABLE, FilterExpression=_filter(None)):
        try:
            record = parse(item)
        except Rejected:
            rejected += 1
            continue
        day = record.fields["day"]
        if day >= before.isoformat():
            unsettled += 1
            continue
        settled += 1
        views += record.fields["views"]
        types[record.fields["entity_type"]] += 1
        entities.add(record.key.partition("@")[0])
        first, last = min(first or day, day), max(last or day, day)
    target_rows = db.session.scalar(select(func.count()).select_from(ViewHistory))
    target_bytes = db.session.scalar(select(func.pg_total_relation_size("view_history")))
    db.session.rollback()
    return [
        (
            "source",
            f"DynamoDB {info['TableName']}: {info.get('ItemCount', 0)} items, "
            f"{info.get('TableSizeBytes', 0)} bytes (all kinds of counters)",
        ),
        (
            "day buckets to move",
            f"{settled} ({', '.join(f'{t} {n}' for t, n in types.items())})" if settled else "0",
        ),
        ("distinct entities", len(entities)),
        ("days", f"{first} to {last}" if first else "none"),
        ("views in them", views),
        ("not yet settled", f"{unsettled} bucket(s) from {before.isoformat()} on (moved later)"),
        ("unparseable keys", rejected),
        (
            "target",
            f"PostgreSQL view_history: {target_rows} rows, {target_bytes} bytes "
            f"(~{settled * 70} bytes of rows for the buckets above, before indexes)",
        ),
        (
            "source reads",
            "Scan of the whole analytics table with a filter (no index serves "
            "'every day bucket'); consistent reads, ~1 RCU per 4 KB scanned",
        ),
        (
            "target access",
            "reports by entity (primary key entity_type, entity_id, day) and "
            "by day across entities (ix_view_history_day)",
        ),
        ("load", "multi-row INSERT … ON CONFLICT DO UPDATE per batch: re-runs overwrite"),
    ]
