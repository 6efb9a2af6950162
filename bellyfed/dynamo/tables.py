"""Every DynamoDB table, its keys, TTL attribute and capacity, as data (see docs/dynamodb.md).

Capacity (billing mode, auto-scaling, point-in-time recovery) follows configuration, read and
compared by ``bellyfed/dynamo/scaling.py``: ``create_tables`` applies it to the tables it creates,
``apply_capacity`` to the existing ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bellyfed.dynamo import resource, table_name
from bellyfed.dynamo.scaling import (
    CapacityError,
    CapacityPlan,
    capacity_plan,
    table_actions,
    throughput,
    wait_active,
)

TABLES: dict[str, dict[str, Any]] = {
    # Counters and time buckets: PK "<kind>#<entity>", SK "TOTAL" | "D#day" | "H#hour" | "M#minute".
    "analytics": {
        "keys": (("pk", "S"), ("sk", "S")),
        "ttl": "expires_at",
    },
    # Search result pages: PK "SEARCH#<sha256>", SK "v#<search version>" (dynamo/search_cache.py).
    "cache": {
        "keys": (("pk", "S"), ("sk", "S")),
        "ttl": "expires_at",
    },
    # Flags and experiments: PK "FLAG#name" | "EXP#name", SK "CONFIG" | "LOG#<iso>#<version>".
    "flags": {
        "keys": (("pk", "S"), ("sk", "S")),
        "ttl": None,
    },
    # Diner preferences, moved from PostgreSQL (issue 7): PK "USER#<id>", SK "PREFS"
    # (data/preferences_store.py, docs/data-migration.md).
    "preferences": {
        "keys": (("pk", "S"), ("sk", "S")),
        "ttl": None,
    },
    # Server-side sessions: PK "SESSION#<id>", SK "META"; a user's sessions through the sparse
    # GSI "user_id" (only signed-in sessions carry it) (dynamo/sessions.py).
    "sessions": {
        "keys": (("pk", "S"), ("sk", "S")),
        "ttl": "expires_at",
        "index": ("user_id", "N"),
    },
    # API tokens, password-reset links and multi-step form state, keyed by the SHA-256 of their
    # secret: PK "TOKEN#<digest>", SK "META"; a user's tokens through the GSI "user_id"
    # (dynamo/tokens.py).
    "tokens": {
        "keys": (("pk", "S"), ("sk", "S")),
        "ttl": "expires_at",
        "index": ("user_id", "N"),
    },
}


def _capacity(plan: CapacityPlan) -> dict[str, Any]:
    """CreateTable's capacity arguments: on-demand, or the configured provisioned units."""
    if plan.mode == "provisioned":
        return {"ProvisionedThroughput": throughput(plan.units)}
    return {"BillingMode": "PAY_PER_REQUEST"}


def _index(attribute: str, plan: CapacityPlan) -> dict[str, Any]:
    index: dict[str, Any] = {
        "IndexName": attribute,
        "KeySchema": [{"AttributeName": attribute, "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"},
    }
    units = _capacity(plan).get("ProvisionedThroughput")
    if units:
        index["ProvisionedThroughput"] = units
    return index


def _table_names(client: Any) -> set[str]:
    pages = client.get_paginator("list_tables").paginate()
    return {name for page in pages for name in page["TableNames"]}


def create_tables(plan: CapacityPlan | None = None) -> list[str]:
    """Create the missing tables (idempotent) with the configured capacity, auto-scaling and
    point-in-time recovery (or ``plan``'s); returns the names created."""
    plan = plan or capacity_plan()
    client = resource().meta.client
    existing = _table_names(client)
    created = []
    for logical, spec in TABLES.items():
        name = table_name(logical)
        if name in existing:
            continue
        hash_key, range_key = spec["keys"]
        key_schema = [
            {"AttributeName": hash_key[0], "KeyType": "HASH"},
            {"AttributeName": range_key[0], "KeyType": "RANGE"},
        ]
        attributes = list(spec["keys"])
        extra: dict[str, Any] = {}
        if spec.get("index"):  # one GSI, named after its hash key, projecting every attribute
            attributes.append(spec["index"])
            extra["GlobalSecondaryIndexes"] = [_index(spec["index"][0], plan)]
        client.create_table(
            TableName=name,
            KeySchema=key_schema,
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in attributes],
            **_capacity(plan),
            **extra,
        )
        wait_active(client, name)
        if spec.get("ttl"):
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec["ttl"]},
            )
        for action in table_actions(client, name, plan, new=True):
            action.call()
        created.append(name)
    return created


@dataclass
class CapacityChanges:
    """What ``apply_capacity`` did (or would do): one line per change, per change held back
    (part of a billing switch that was not confirmed), per failed table."""

    changes: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def apply_capacity(
    dry_run: bool = False, tables: Sequence[str] = (), switch_billing: bool = False
) -> CapacityChanges:
    """Bring the existing tables (``tables``: these logical ones only) to the configured billing
    mode, auto-scaling and PITR.

    Idempotent: only differences are changed. A billing switch, and the auto-scaling changes that
    go with it, are held back unless ``switch_billing``; the other changes are still made. A table
    that fails is reported, its later changes are not made, and the next table is still done."""
    unknown = [logical for logical in tables if logical not in TABLES]
    if unknown:
        raise CapacityError(f"No such table: {', '.join(unknown)} (known: {', '.join(TABLES)}).")
    plan = capacity_plan()
    client = resource().meta.client
    existing = _table_names(client)
    result = CapacityChanges()
    for logical in dict.fromkeys(tables) or TABLES:
        name = table_name(logical)
        if name not in existing:
            result.missing.append(name)
            continue
        try:
            for action in table_actions(client, name, plan):
                if action.switch and not switch_billing:
                    result.held.append(f"{name}: {action.description}")
                    continue
                if not dry_run:
                    action.call()
                result.changes.append(f"{name}: {action.description}")
        except (ClientError, BotoCoreError) as exc:
            result.errors.append(f"{name}: {exc}")
    return result


def describe_tables() -> list[dict[str, Any]]:
    """Name, status, item count and billing mode of each table (missing ones say so)."""
    client = resource().meta.client
    rows = []
    for logical in TABLES:
        name = table_name(logical)
        try:
            info = client.describe_table(TableName=name)["Table"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            rows.append({"name": name, "status": "MISSING"})
            continue
        billing = info.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
        rows.append({"name": name, "status": info["TableStatus"], "items": info.get("ItemCount", 0),
                     "billing": billing})  # fmt: skip
    return rows


def drop_tables() -> list[str]:
    """Delete the tables that exist (idempotent); returns the names dropped."""
    client = resource().meta.client
    existing = _table_names(client)
    dropped = []
    for logical in TABLES:
        name = table_name(logical)
        if name in existing:
            client.delete_table(TableName=name)
            client.get_waiter("table_not_exists").wait(TableName=name)
            dropped.append(name)
    return dropped
