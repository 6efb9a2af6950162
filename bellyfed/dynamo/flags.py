"""Feature flags, experiments and their change logs in the ``flags`` table.

Keys:
    PK  ``FLAG#<name>`` | ``EXP#<name>``
    SK  ``CONFIG`` (the current settings) | ``LOG#<ISO timestamp>#<version>`` (one per change)
Flag attributes: ``enabled``, ``rollout`` (0-100), ``users`` (ids), ``roles``, ``cities`` (slugs),
``default``, ``description``. Experiment attributes: ``variants`` (a list of ``{name, weight}``),
``enabled``, ``description``. Both: ``version``, ``updated_by``, ``updated_at``. Log items:
``version``, ``who``, ``what``, ``at``.

Optimistic locking: every write carries the version it was based on and is conditional on the
stored one, so two operators editing at once cannot overwrite each other silently. The settings
and their log item are written in one transaction so no change goes unlogged (moto copies the
table per transaction, which this small, rarely written table can afford).

Reading everything is one Scan: a few dozen flags and their logs, read once per process per
cache period (``bellyfed.flags``), never per request.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from bellyfed.dynamo import every_page, table, table_name
from bellyfed.flags.evaluate import Experiment, Flag, Variant

TABLE = "flags"
CONFIG = "CONFIG"
Record = Flag | Experiment


class VersionConflict(Exception):
    """The stored item is not the version the change was based on."""

    def __init__(self, current: Record | None) -> None:
        super().__init__("version conflict")
        self.current = current


def pk(record_or_kind: Record | type, name: str | None = None) -> str:
    """``FLAG#<name>`` or ``EXP#<name>``."""
    kind = record_or_kind if isinstance(record_or_kind, type) else type(record_or_kind)
    return f"{'FLAG' if kind is Flag else 'EXP'}#{name or record_or_kind.name}"


def _to_item(record: Record) -> dict[str, Any]:
    item = {
        "pk": pk(record),
        "sk": CONFIG,
        "enabled": record.enabled,
        "description": record.description,
        "version": record.version,
        "updated_by": record.updated_by,
        "updated_at": record.updated_at,
    }
    if isinstance(record, Flag):
        item["rollout"] = record.rollout
        item["users"] = sorted(record.users)
        item["roles"] = sorted(record.roles)
        item["cities"] = sorted(record.cities)
        item["default"] = record.default
    else:
        item["variants"] = [{"name": v.name, "weight": v.weight} for v in record.variants]
    return item


def _from_item(item: dict[str, Any]) -> Record:
    kind, name = item["pk"].split("#", 1)
    common = {
        "name": name,
        "enabled": bool(item.get("enabled")),
        "description": item.get("description", ""),
        "version": int(item.get("version", 0)),
        "updated_by": item.get("updated_by", ""),
        "updated_at": item.get("updated_at", ""),
    }
    if kind == "EXP":
        variants = tuple(Variant(v["name"], int(v["weight"])) for v in item.get("variants", []))
        return Experiment(variants=variants, **common)
    return Flag(
        rollout=int(item.get("rollout", 0)),
        users=frozenset(int(u) for u in item.get("users", [])),
        roles=frozenset(item.get("roles", [])),
        cities=frozenset(item.get("cities", [])),
        default=bool(item.get("default")),
        **common,
    )


def list_all() -> tuple[dict[str, Flag], dict[str, Experiment]]:
    """Every flag and experiment by name (one Scan; more pages only past 1 MB)."""
    flags: dict[str, Flag] = {}
    experiments: dict[str, Experiment] = {}
    items = every_page(TABLE, "scan", FilterExpression=Attr("sk").eq(CONFIG), ConsistentRead=True)
    for record in map(_from_item, items):
        if isinstance(record, Flag):
            flags[record.name] = record
        else:
            experiments[record.name] = record
    return flags, experiments


def get(kind: type, name: str) -> Record | None:
    """One flag (``kind=Flag``) or experiment, or None."""
    item = table(TABLE).get_item(Key={"pk": pk(kind, name), "sk": CONFIG}, ConsistentRead=True)
    return _from_item(item["Item"]) if "Item" in item else None


def put(record: Record, expected_version: int, who: str, what: str) -> Record:
    """Write ``record`` as the next version, with its log entry; VersionConflict if it moved."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    version = expected_version + 1
    stored = replace(record, version=version, updated_by=who, updated_at=now)
    config = {"TableName": table_name(TABLE), "Item": _to_item(stored)}
    if expected_version == 0:  # a new name: nothing may exist under it yet
        config["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        config["ConditionExpression"] = "version = :v"
        config["ExpressionAttributeValues"] = {":v": expected_version}
    log = {"pk": pk(record), "sk": f"LOG#{now}#{version:06d}", "version": version}
    log |= {"who": who, "what": what, "at": now}
    try:
        table(TABLE).meta.client.transact_write_items(
            TransactItems=[{"Put": config}, {"Put": {"TableName": table_name(TABLE), "Item": log}}]
        )
    except ClientError as exc:
        reasons = exc.response.get("CancellationReasons") or [{}]
        if reasons[0].get("Code") == "ConditionalCheckFailed":
            raise VersionConflict(get(type(record), record.name)) from exc
        raise
    return stored


def changes(kind: type, name: str, limit: int = 50) -> list[dict[str, Any]]:
    """The newest ``limit`` log entries of one flag or experiment: who, what, when."""
    page = table(TABLE).query(
        KeyConditionExpression=Key("pk").eq(pk(kind, name)) & Key("sk").begins_with("LOG#"),
        ScanIndexForward=False,
        Limit=limit,
    )
    return [
        {"who": i["who"], "what": i["what"], "at": i["at"], "version": int(i["version"])}
        for i in page["Items"]
    ]
