"""Moving buffered events from Redis to DynamoDB exactly once.

1. Take the lock (one flusher at a time; batches must be applied in order).
2. Re-drive any batch a previous flush left behind (it died, or DynamoDB was down).
3. Snapshot the buffer atomically: ``RENAME events -> batch:<seq>`` with a new seq.
4. Apply the batch: per DynamoDB item one conditional UpdateItem carrying ``seq``
   (dynamo/counters.py), so re-running a batch skips what it already wrote.
5. Copy the restaurants' new totals to PostgreSQL (for the page and the "popular" sort).
6. Delete the batch only after every write succeeded.
A crash at any point leaves either the buffer or a batch in Redis; nothing is lost or doubled.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import redis
from sqlalchemy import bindparam, text

from bellyfed.analytics import keys
from bellyfed.dynamo import counters
from bellyfed.dynamo.counters import Increment
from bellyfed.extensions import db

# The lock outlives a killed flusher by at most this long; a live one renews it as it writes.
LOCK_SECONDS = 60
RENEW_EVERY = 50  # writes
HOUR_TTL = 120 * 24 * 3600
MINUTE_TTL = 3 * 24 * 3600
SYNC_VIEWS_SQL = """
UPDATE restaurants SET view_count = v.total
FROM unnest(CAST(:ids AS bigint[]), CAST(:totals AS bigint[])) AS v(id, total)
WHERE restaurants.id = v.id AND restaurants.view_count IS DISTINCT FROM v.total
"""
RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)
RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('expire', KEYS[1], ARGV[2]) end return 0"
)


class LockLost(RuntimeError):
    """Another flusher took over after this one stalled: stop rather than write out of order."""


@dataclass
class FlushReport:
    """What one flush did."""

    batches: list[int] = field(default_factory=list)
    events: int = 0
    writes: int = 0
    skipped: int = 0
    locked_out: bool = False


def expand(batch: dict[str, int], redis_client: redis.Redis) -> list[Increment]:
    """Turn buffer fields into one increment per DynamoDB item (summed within the batch)."""
    sums: dict[tuple[str, str], int] = defaultdict(int)
    uniques: dict[tuple[str, str], str] = {}
    for raw, n in batch.items():
        kind, entity, minute = keys.split(raw)
        hour = minute[:13]
        pk = f"{kind}#{entity}"
        sums[(pk, "TOTAL")] += n
        sums[(pk, f"H#{hour}")] += n
        if kind == "view":
            uniques[(pk, f"H#{hour}")] = keys.hll_key(kind, entity, hour)
            sums[("metric#views", f"M#{minute}")] += n
            sums[("metric#views", f"H#{hour}")] += n
        elif kind == "click":
            link = entity.rsplit(":", 1)[-1]
            sums[(f"metric#clicks:{link}", f"H#{hour}")] += n
        elif kind == "metric":
            sums[(pk, f"M#{minute}")] += n
    counts = _pfcounts(redis_client, list(uniques.values()))
    increments = []
    for (pk, sk), n in sums.items():
        ttl = _expiry(sk)
        unique = counts.get(uniques[(pk, sk)]) if (pk, sk) in uniques else None
        increments.append(Increment(pk, sk, n, unique, ttl))
    return increments


def _pfcounts(redis_client: redis.Redis, hll_keys: list[str]) -> dict[str, int]:
    if not hll_keys:
        return {}
    pipe = redis_client.pipeline(transaction=False)
    for key in hll_keys:
        pipe.pfcount(key)
    return dict(zip(hll_keys, pipe.execute(), strict=True))


def _expiry(sk: str) -> int | None:
    now = int(time.time())
    if sk.startswith("M#"):
        return now + MINUTE_TTL
    if sk.startswith("H#"):
        return now + HOUR_TTL
    return None


def flush(redis_client: redis.Redis) -> FlushReport:
    """Re-drive leftover batches, then flush the current buffer. Raises if DynamoDB fails."""
    report = FlushReport()
    token = uuid.uuid4().hex
    if not redis_client.set(keys.LOCK, token, nx=True, ex=LOCK_SECONDS):
        report.locked_out = True
        return report
    try:
        for seq in leftover_batches(redis_client):
            _apply_batch(redis_client, seq, report, token)
        if redis_client.exists(keys.BUFFER):
            seq = int(redis_client.incr(keys.SEQ))
            try:
                redis_client.rename(keys.BUFFER, f"{keys.BATCH}{seq}")
            except redis.ResponseError:  # emptied in between: nothing to flush
                return report
            _apply_batch(redis_client, seq, report, token)
        redis_client.set(keys.LAST_FLUSH, repr(time.time()))
    finally:
        redis_client.eval(RELEASE, 1, keys.LOCK, token)
    return report


def leftover_batches(redis_client: redis.Redis) -> list[int]:
    """Batches taken but not finished, oldest first."""
    prefix = len(keys.BATCH)
    return sorted(
        int(k.decode()[prefix:]) for k in redis_client.scan_iter(f"{keys.BATCH}*", count=100)
    )


def _apply_batch(redis_client: redis.Redis, seq: int, report: FlushReport, token: str) -> None:
    name = f"{keys.BATCH}{seq}"
    batch = {k.decode(): int(v) for k, v in redis_client.hgetall(name).items()}
    increments = expand(batch, redis_client)
    results: dict[tuple[str, str], int | None] = {}
    for start in range(0, len(increments), RENEW_EVERY):
        if not redis_client.eval(RENEW, 1, keys.LOCK, token, LOCK_SECONDS):
            raise LockLost(f"flush lock lost while applying batch {seq}")
        results.update(counters.apply(increments[start : start + RENEW_EVERY], seq))
    _sync_restaurant_views(results)
    _count_tops(redis_client, increments, results)
    touched = {pk for pk, sk in results if sk.startswith("H#")}
    for day in {sk[2:12] for _, sk in results if sk.startswith("H#")}:
        redis_client.sadd(f"{keys.TOUCHED}{day}", *touched)
        redis_client.expire(f"{keys.TOUCHED}{day}", 3 * 24 * 3600)
    redis_client.delete(name)
    report.batches.append(seq)
    report.events += sum(batch.values())
    report.writes += sum(1 for v in results.values() if v is not None)
    report.skipped += sum(1 for v in results.values() if v is None)


def _count_tops(redis_client: redis.Redis, increments: list[Increment], results: dict) -> None:
    """Dashboard leaderboards ("top restaurants now", "top searches"), from the hour items this
    run wrote (not the ones a re-driven batch skips, so a re-run adds nothing twice)."""
    pipe = redis_client.pipeline(transaction=False)
    for item in increments:
        if results.get((item.pk, item.sk)) is None or not item.sk.startswith("H#"):
            continue
        kind, entity = item.pk.split("#", 1)
        if kind == "view" and entity.startswith("restaurant:"):
            top = f"{keys.TOP}views:{item.sk[2:]}"
            pipe.zincrby(top, item.n, entity.split(":", 1)[1])
        elif kind == "search":
            top = f"{keys.TOP}searches:{item.sk[2:12]}"
            pipe.zincrby(top, item.n, entity)
        else:
            continue
        pipe.expire(top, keys.TOP_TTL)
    pipe.execute()


def _sync_restaurant_views(results: dict[tuple[str, str], int | None]) -> None:
    """Write restaurants' view totals to PostgreSQL in one statement (committed here)."""
    totals = {}
    for (pk, sk), n in results.items():
        if sk == "TOTAL" and pk.startswith("view#restaurant:"):
            restaurant_id = int(pk.rsplit(":", 1)[1])
            totals[restaurant_id] = n if n is not None else counters.count(pk)
    if not totals:
        return
    db.session.execute(
        text(SYNC_VIEWS_SQL).bindparams(bindparam("ids"), bindparam("totals")),
        {"ids": list(totals), "totals": list(totals.values())},
    )  # fmt: skip
    db.session.commit()


def lag_seconds(redis_client: redis.Redis, now: datetime | None = None) -> float | None:
    """Seconds since the last completed flush (None if there never was one)."""
    last = redis_client.get(keys.LAST_FLUSH)
    if last is None:
        return None
    return (now.timestamp() if now else time.time()) - float(last)
