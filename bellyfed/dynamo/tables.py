"""Every DynamoDB table, its keys, TTL attribute and capacity, as data (see docs/dynamodb.md)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from flask import current_app

from bellyfed.dynamo import resource, table_name

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


def _capacity() -> dict[str, Any]:
    """On-demand by default; DYNAMODB_CAPACITY=provisioned uses the configured units."""
    if current_app.config.get("DYNAMODB_CAPACITY", "on-demand") == "provisioned":
        units = current_app.config.get("DYNAMODB_PROVISIONED_UNITS", (5, 5))
        return {
            "ProvisionedThroughput": {"ReadCapacityUnits": units[0], "WriteCapacityUnits": units[1]}
        }
    return {"BillingMode": "PAY_PER_REQUEST"}


def _index(attribute: str) -> dict[str, Any]:
    index: dict[str, Any] = {
        "IndexName": attribute,
        "KeySchema": [{"AttributeName": attribute, "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"},
    }
    throughput = _capacity().get("ProvisionedThroughput")
    if throughput:
        index["ProvisionedThroughput"] = throughput
    return index


def create_tables() -> list[str]:
    """Create the missing tables (idempotent); returns the names created."""
    client = resource().meta.client
    existing = set(client.list_tables()["TableNames"])
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
            extra["GlobalSecondaryIndexes"] = [_index(spec["index"][0])]
        client.create_table(
            TableName=name,
            KeySchema=key_schema,
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in attributes],
            **_capacity(),
            **extra,
        )
        client.get_waiter("table_exists").wait(TableName=name)
        if spec.get("ttl"):
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec["ttl"]},
            )
        created.append(name)
    return created


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
    existing = set(client.list_tables()["TableNames"])
    dropped = []
    for logical in TABLES:
        name = table_name(logical)
        if name in existing:
            client.delete_table(TableName=name)
            client.get_waiter("table_not_exists").wait(TableName=name)
            dropped.append(name)
    return dropped
