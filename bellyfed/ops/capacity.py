"""DynamoDB consumed capacity, recorded per table, operation and hour (for ``flask cost report``).

Every DynamoDB call the app makes asks for its consumed capacity (``ReturnConsumedCapacity=TOTAL``,
added by a boto3 event hook in ``bellyfed/ops/metrics.py``) and records it here, in Redis:

    ``bellyfed:capacity:<UTC hour>``  HASH  ``<table>|<operation>|read`` / ``|write`` -> units
    (kept ``KEEP_DAYS`` days; HINCRBYFLOAT, so concurrent processes add up)

Recording never fails a request: a Redis error is logged and the units are lost.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import redis

from bellyfed.redis_client import get_redis

log = logging.getLogger(__name__)
PREFIX = "bellyfed:capacity:"
KEEP_DAYS = 35


def hour_key(moment: datetime) -> str:
    return f"{PREFIX}{moment.astimezone(UTC):%Y-%m-%dT%H}"


def record(table: str, operation: str, read_units: float, write_units: float,
           now: datetime | None = None) -> None:  # fmt: skip
    """Add one call's consumed units."""
    if not read_units and not write_units:
        return
    key = hour_key(now or datetime.now(UTC))
    try:
        pipe = get_redis().pipeline(transaction=False)
        if read_units:
            pipe.hincrbyfloat(key, f"{table}|{operation}|read", read_units)
        if write_units:
            pipe.hincrbyfloat(key, f"{table}|{operation}|write", write_units)
        pipe.expire(key, KEEP_DAYS * 24 * 3600)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("capacity: could not record %s %s: %s", table, operation, exc)


def usage(start: datetime, end: datetime) -> dict[str, dict[str, float]]:
    """Units per table and operation over ``[start, end)``, whole hours:
    ``{"<table>": {"read": r, "write": w, "<operation>.read": ..., ...}}``."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    keys = []
    while hour < end:
        keys.append(hour_key(hour))
        hour += timedelta(hours=1)
    pipe = get_redis().pipeline(transaction=False)
    for key in keys:
        pipe.hgetall(key)
    for fields in pipe.execute():
        for field, units in fields.items():
            table, operation, kind = field.decode().split("|")
            totals[table][kind] += float(units)
            totals[table][f"{operation}.{kind}"] += float(units)
    return {table: dict(values) for table, values in totals.items()}
