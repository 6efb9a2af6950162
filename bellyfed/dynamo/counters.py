"""Counters and time buckets in the ``analytics`` table.

Keys:
    PK  ``<kind>#<entity>``   view#restaurant:42 · click#restaurant:42:phone · metric#searches
    SK  ``TOTAL`` | ``D#2026-11-27`` | ``H#2026-11-27T10`` | ``M#2026-11-27T10:05``
Attributes: ``n`` count, ``u`` unique visitors (view hour buckets), ``seq`` the last flush batch
applied to the item, ``expires_at`` TTL (epoch seconds) on minute and hour buckets.

Exactly once: an increment from batch ``seq`` is applied only if the item's ``seq`` is lower, and
the write records ``seq`` in the same UpdateItem. A batch that is re-driven after a crash skips
the items it already reached. Batches are applied one at a time, in order (see analytics/flush).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from bellyfed.dynamo import every_page, table

TABLE = "analytics"


@dataclass(frozen=True)
class Increment:
    """Add ``n`` to one item; optionally set its unique count and its expiry."""

    pk: str
    sk: str
    n: int
    uniques: int | None = None
    expires_at: int | None = None


def _update_item(increment: Increment, seq: int) -> int | None:
    """One conditional UpdateItem; the new count, or None if this batch was already applied."""
    expression = "ADD n :n SET seq = :seq"
    values: dict[str, Any] = {":n": increment.n, ":seq": seq}
    if increment.uniques is not None:
        expression += ", u = :u"
        values[":u"] = increment.uniques
    if increment.expires_at is not None:
        expression += ", expires_at = :ttl"
        values[":ttl"] = increment.expires_at
    try:
        response = table(TABLE).update_item(
            Key={"pk": increment.pk, "sk": increment.sk},
            UpdateExpression=expression,
            ConditionExpression="attribute_not_exists(seq) OR seq < :seq",
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    return int(response["Attributes"]["n"])


def apply_one(increment: Increment, seq: int) -> int | None:
    """Apply one increment of batch ``seq``: the new count, or None if it was applied before."""
    return _update_item(increment, seq)


def apply(increments: Iterable[Increment], seq: int) -> dict[tuple[str, str], int | None]:
    """Apply a batch's increments; per item the new count (None: applied before this run)."""
    return {(i.pk, i.sk): _update_item(i, seq) for i in increments}


HIGH_WATER = {"pk": "flush#meta", "sk": "SEQ"}


def high_water() -> int:
    """The highest batch seq ever applied (Redis may forget its counter; DynamoDB does not)."""
    item = table(TABLE).get_item(Key=HIGH_WATER, ConsistentRead=True).get("Item")
    return int(item["seq"]) if item else 0


def raise_high_water(seq: int) -> None:
    """Record that batch ``seq`` was applied (never lowers the mark)."""
    try:
        table(TABLE).update_item(
            Key=HIGH_WATER,
            UpdateExpression="SET seq = :seq",
            ConditionExpression="attribute_not_exists(seq) OR seq < :seq",
            ExpressionAttributeValues={":seq": seq},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def count(pk: str, sk: str = "TOTAL") -> int:
    """One item's count (0 when absent)."""
    item = table(TABLE).get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")
    return int(item["n"]) if item else 0


def buckets(pk: str, first: str, last: str) -> list[dict[str, Any]]:
    """Items of ``pk`` with sort keys from ``first`` to ``last`` ("H#…" hours), in order."""
    return every_page(
        TABLE, KeyConditionExpression=Key("pk").eq(pk) & Key("sk").between(first, last)
    )


def set_count(pk: str, sk: str, n: int, uniques: int | None = None) -> None:
    """Overwrite a rolled-up item (idempotent: rollups recompute from the hour buckets)."""
    expression, values = "SET n = :n", {":n": n}
    if uniques is not None:
        expression += ", u = :u"
        values[":u"] = uniques
    table(TABLE).update_item(Key={"pk": pk, "sk": sk}, UpdateExpression=expression,
                             ExpressionAttributeValues=values)  # fmt: skip
