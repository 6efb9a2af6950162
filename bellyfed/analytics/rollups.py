"""Daily rollups: each item's hour buckets of a day summed into its ``D#<day>`` bucket.

Idempotent (an overwrite computed from the hours), so beat may run it as often as it likes; the
flush records which items it touched per day, so only those are read.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import redis

from bellyfed.analytics import keys
from bellyfed.dynamo import counters


def rollup_recent(redis_client: redis.Redis) -> int:
    """Today and yesterday (so the last flushes of a day still reach its bucket)."""
    today = datetime.now(UTC).date()
    return rollup_day(redis_client, today - timedelta(days=1)) + rollup_day(redis_client, today)


def rollup_day(redis_client: redis.Redis, day: date | None = None) -> int:
    """Write ``D#<day>`` for every item touched that day; returns how many were written."""
    day_text = (day or datetime.now(UTC).date()).isoformat()
    written = 0
    for raw in redis_client.sscan_iter(f"{keys.TOUCHED}{day_text}", count=500):
        pk = raw.decode()
        hours = counters.buckets(pk, f"H#{day_text}T00", f"H#{day_text}T23")
        total = sum(int(item["n"]) for item in hours)
        counters.set_count(pk, f"D#{day_text}", total)
        written += 1
    return written
