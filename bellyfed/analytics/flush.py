"""Moving buffered events from Redis to DynamoDB exactly once.

1. Take the lock (one flusher at a time; batches must be applied in order). It expires within
   seconds of a flusher dying; a live one keeps renewing it.
2. Re-drive any batch a previous flush left behind (it died, or DynamoDB was down).
3. Snapshot the buffer atomically: ``RENAME events -> batch:<seq>`` with a new seq.
4. Apply the batch: per DynamoDB item one conditional UpdateItem carrying ``seq``
   (dynamo/counters.py), so re-running a batch skips what it already wrote.
5. Copy the restaurants' new totals to PostgreSQL (for the page and the "popular" sort).
6. Delete the batch only after every write succeeded.
A crash at any point leaves either the buffer or a batch in Redis; nothing is lost or doubled.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import redis
from botocore.exceptions import ClientError
from sqlalchemy import bindparam, text

from bellyfed.analytics import keys
from bellyfed.dynamo import counters
from bellyfed.dynamo.counters import Increment
from bellyfed.extensions import db

log = logging.getLogger(__name__)
# The lock outlives a killed flusher by at most LOCK_SECONDS, so the next flush (beat: every 5 s)
# takes over within seconds of a worker dying mid-task. A live flusher keeps it: a thread renews it
# every RENEW_SECONDS however long one DynamoDB call takes (retries included), and the flush
# itself checks it still holds it every RENEW_EVERY writes, before finishing a batch. A flusher
# stuck past MAX_HOLD_SECONDS stops renewing, so a hung process cannot block flushing forever.
LOCK_SECONDS = 8
RENEW_SECONDS = 2
MAX_HOLD_SECONDS = 15 * 60
RENEW_EVERY = 50  # writes
HOUR_TTL = 120 * 24 * 3600
MINUTE_TTL = 3 * 24 * 3600
SYNC_VIEWS_SQL = """
UPDATE restaurants SET view_count = v.total
FROM unnest(CAST(:ids AS bigint[]), CAST(:totals AS bigint[])) AS v(id, total)
WHERE restaurants.id = v.id AND restaurants.view_count < v.total
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
        try:
            kind, entity, minute = keys.split(raw)
        except ValueError:
            log.error("flush: malformed buffer field %r set aside", raw[:200])
            redis_client.hincrby(DEAD, raw[:300], n)
            continue
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


# Atomic snapshot, only while we still hold the lock: INCR the seq and RENAME the buffer together.
SNAPSHOT = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('exists', KEYS[2]) == 0 then return 0 end
local seq = redis.call('incr', KEYS[3])
redis.call('rename', KEYS[2], ARGV[2] .. seq)
redis.call('expire', KEYS[1], ARGV[3])
return seq
"""
# Finish a batch once: its tallies and touched sets, then DEL, all or nothing, only if it still
# exists (a re-driven batch that was finished before adds nothing) and we still hold the lock.
FINISH = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('exists', KEYS[2]) == 0 then return 0 end
local ops = cjson.decode(ARGV[2])
for _, op in ipairs(ops['z']) do
  redis.call('zincrby', op[1], op[2], op[3]); redis.call('expire', op[1], op[4])
end
for _, op in ipairs(ops['s']) do
  redis.call('sadd', op[1], op[2]); redis.call('expire', op[1], op[3])
end
redis.call('del', KEYS[2])
return 1
"""
# DynamoDB refuses these for good (an oversized key, a malformed value): retrying cannot help.
PERMANENT = {"ValidationException", "SerializationException"}
DEAD = "bellyfed:dead"  # HASH of items set aside, for an operator to look at


class _Keeper:
    """Renews the flush lock from a daemon thread while the flush runs; it dies with the process."""

    def __init__(self, redis_client: redis.Redis, token: str) -> None:
        self._client, self._token = redis_client, token
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flush-lock", daemon=True)

    def __enter__(self) -> _Keeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=RENEW_SECONDS + 1)

    def _run(self) -> None:
        deadline = time.monotonic() + MAX_HOLD_SECONDS
        while not self._done.wait(RENEW_SECONDS):
            if time.monotonic() > deadline:
                log.error("flush: still running after %d s; no longer renewing its lock",
                          MAX_HOLD_SECONDS)  # fmt: skip
                return
            try:
                if not self._client.eval(RENEW, 1, keys.LOCK, self._token, LOCK_SECONDS):
                    return  # lost: the flush finds out at its next check and stops
            except redis.RedisError:
                pass  # Redis is down: the flush itself fails on it; try again next time


def flush(redis_client: redis.Redis) -> FlushReport:
    """Re-drive leftover batches, then flush the current buffer. Raises if DynamoDB fails."""
    report = FlushReport()
    token = uuid.uuid4().hex
    if not redis_client.set(keys.LOCK, token, nx=True, ex=LOCK_SECONDS):
        report.locked_out = True
        return report
    try:
        with _Keeper(redis_client, token):
            _flush_locked(redis_client, report, token)
    finally:
        redis_client.eval(RELEASE, 1, keys.LOCK, token)
    return report


def _flush_locked(redis_client: redis.Redis, report: FlushReport, token: str) -> None:
    """Steps 2-6 of the module docstring, holding the lock."""
    for seq in leftover_batches(redis_client):
        _apply_batch(redis_client, seq, report, token)
    _reseed_seq(redis_client)
    snapshot_keys = (keys.LOCK, keys.BUFFER, keys.SEQ)
    seq = int(redis_client.eval(SNAPSHOT, 3, *snapshot_keys, token, keys.BATCH, LOCK_SECONDS))
    if seq < 0:
        raise LockLost("flush lock lost before the snapshot")
    if seq > 0:
        _apply_batch(redis_client, seq, report, token)
    redis_client.set(keys.LAST_FLUSH, repr(time.time()))


def _reseed_seq(redis_client: redis.Redis) -> None:
    """Redis keeps nothing on disk: never let the seq restart below what DynamoDB has seen."""
    high_water = counters.high_water()
    current = int(redis_client.get(keys.SEQ) or 0)
    if current < high_water:
        log.warning(
            "flush: seq %d below DynamoDB's high-water mark %d; reseeding", current, high_water
        )
        redis_client.set(keys.SEQ, high_water)


def leftover_batches(redis_client: redis.Redis) -> list[int]:
    """Batches taken but not finished, oldest first."""
    prefix = len(keys.BATCH)
    names = redis_client.scan_iter(f"{keys.BATCH}*", count=100)
    return sorted(int(name.decode()[prefix:]) for name in names)


def _hold(redis_client: redis.Redis, token: str, seq: int) -> None:
    if not redis_client.eval(RENEW, 1, keys.LOCK, token, LOCK_SECONDS):
        raise LockLost(f"flush lock lost while applying batch {seq}")


def _apply_batch(redis_client: redis.Redis, seq: int, report: FlushReport, token: str) -> None:
    name = f"{keys.BATCH}{seq}"
    batch = {k.decode(): int(v) for k, v in redis_client.hgetall(name).items()}
    increments = expand(batch, redis_client)
    results: dict[tuple[str, str], int | None] = {}
    for start in range(0, len(increments), RENEW_EVERY):
        _hold(redis_client, token, seq)
        for item in increments[start : start + RENEW_EVERY]:
            try:
                results[(item.pk, item.sk)] = counters.apply_one(item, seq)
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in PERMANENT:
                    raise
                log.error(
                    "flush: DynamoDB refused %s/%s for good, set aside: %s", item.pk, item.sk, exc
                )
                redis_client.hincrby(DEAD, f"{item.pk[:200]}|{item.sk}", item.n)
    counters.raise_high_water(seq)
    _hold(redis_client, token, seq)
    _sync_restaurant_views(results, lambda: _hold(redis_client, token, seq))
    finished = redis_client.eval(
        FINISH, 2, keys.LOCK, name, token, json.dumps(_tallies(increments))
    )
    if finished < 0:
        raise LockLost(f"flush lock lost before finishing batch {seq}")
    report.batches.append(seq)
    report.events += sum(batch.values())
    report.writes += sum(1 for v in results.values() if v is not None)
    report.skipped += sum(1 for v in results.values() if v is None)


API_KINDS = ("api", "api_token", "api_error")


def _tallies(increments: list[Increment]) -> dict[str, list]:
    """The batch's additions to the dashboard tops and the rollup's touched sets."""
    tops, touched = [], []
    for item in increments:
        if not item.sk.startswith("H#"):
            continue
        touched.append([f"{keys.TOUCHED}{item.sk[2:12]}", item.pk, keys.TOUCHED_TTL])
        kind, entity = item.pk.split("#", 1)
        if kind == "view" and entity.startswith("restaurant:"):
            tops.append(
                [f"{keys.TOP}views:{item.sk[2:]}", item.n, entity.split(":", 1)[1], keys.TOP_TTL]
            )
        elif kind == "search":
            tops.append([f"{keys.TOP}searches:{item.sk[2:12]}", item.n, entity, keys.TOP_TTL])
        elif kind in API_KINDS:  # the dashboard's API card: calls by endpoint, token and error
            tops.append([f"{keys.TOP}{kind}:{item.sk[2:12]}", item.n, entity, keys.TOP_TTL])
    return {"z": tops, "s": touched}


def _sync_restaurant_views(
    results: dict[tuple[str, str], int | None], hold: Callable[[], None]
) -> None:
    """Write restaurants' view totals to PostgreSQL in one statement (committed here)."""
    totals = {}
    for index, ((pk, sk), n) in enumerate(results.items()):
        if sk == "TOTAL" and pk.startswith("view#restaurant:"):
            restaurant_id = int(pk.rsplit(":", 1)[1])
            totals[restaurant_id] = n if n is not None else counters.count(pk)
            if index % RENEW_EVERY == RENEW_EVERY - 1:
                hold()
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
