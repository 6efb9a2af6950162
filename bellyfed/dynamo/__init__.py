"""The one door to DynamoDB: a boto3 resource built lazily from config, and the table layout.

Every access pattern lives in a module here (``counters``; sessions, tokens, caches and flags
follow) and documents its key shapes; ``docs/dynamodb.md`` is the whole picture.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from flask import current_app

# Fail fast: a DynamoDB outage must degrade a feature, not hold a worker for a minute.
CLIENT_CONFIG = Config(
    connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}
)


def resource() -> Any:
    """The app's DynamoDB resource, built on first use (never at import time)."""
    cached = current_app.extensions.get("dynamodb")
    if cached is None:
        cached = boto3.resource(
            "dynamodb",
            region_name=current_app.config["AWS_REGION"],
            endpoint_url=current_app.config["AWS_ENDPOINT_URL_DYNAMODB"],
            config=CLIENT_CONFIG,
        )
        from bellyfed.ops.dynamo_metrics import instrument_dynamodb  # calls, errors, capacity

        instrument_dynamodb(cached.meta.client)
        current_app.extensions["dynamodb"] = cached
    return cached


def table_name(logical: str) -> str:
    """The physical table name: the configured prefix plus the logical name."""
    return f"{current_app.config['DYNAMODB_TABLE_PREFIX']}{logical}"


def table(logical: str) -> Any:
    """A Table object for a logical table name ("analytics", ...)."""
    return resource().Table(table_name(logical))


def every_page(logical: str, operation: str = "query", **kwargs: Any) -> list[dict[str, Any]]:
    """All items a Query (or Scan) of a table returns, following ``LastEvaluatedKey``."""
    call = getattr(table(logical), operation)
    items: list[dict[str, Any]] = []
    while True:
        page = call(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
