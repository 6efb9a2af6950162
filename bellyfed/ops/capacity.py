"""DynamoDB consumed capacity, recorded per table, operation and hour (for ``flask cost report``).

Every DynamoDB call the app makes asks for its consumed capacity (``ReturnConsumedCapacity=TOTAL``,
added by a boto3 event hook in ``bellyfed/ops/dynamo_metrics.py``) and records it here, in Redis:

    ``bellyfed:capacity:<UTC hour>``  HASH  ``<table>|<operation>|read`` / ``|write`` -> units
    (kept ``KEEP_DAYS`` days; HINCRBYFLOAT, so concurrent processes add up)

Inside a web request the units are only added to an in-process buffer (per app): a DynamoDB call
never waits on Redis. The buffer goes to Redis in one pipeline when a request ends and
``FLUSH_SECONDS`` have passed since the last send, and when the process exits. Outside a request
(worker tasks, CLI commands, tests) ``record`` sends at once, so what it recorded is visible to
``usage`` right away; ``usage`` also sends this process's buffer first.

Recording never fails a request. When Redis fails, the units stay in the buffer and that Redis
is left alone for ``PAUSE_AFTER_ERROR`` seconds (a Redis that accepts connections but never answers
costs one socket timeout per pause, not one per call). A process that dies without exiting
cleanly loses at most its last ``FLUSH_SECONDS`` of units.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import redis
from flask import current_app, has_app_context, has_request_context

from bellyfed.redis_client import get_redis

log = logging.getLogger(__name__)
PREFIX = "bellyfed:capacity:"
KEEP_DAYS = 35
FLUSH_SECONDS = 5.0
PAUSE_AFTER_ERROR = 30.0
MAX_FIELDS = 10_000  # hours x tables x operations x kinds: only reached when Redis is gone for long


def hour_key(moment: datetime) -> str:
    return f"{PREFIX}{moment.astimezone(UTC):%Y-%m-%dT%H}"


class _Buffer:
    """One app's units not yet in Redis, in this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.units: dict[tuple[str, str], float] = defaultdict(float)
        self.sent_at = time.monotonic()
        self.client: redis.Redis | None = None  # the last one seen, for the flush at exit
        self.paused: tuple[redis.Redis | None, float] = (None, float("-inf"))
        self.dropped = 0

    def add(self, key: str, field: str, units: float) -> None:
        with self.lock:
            if len(self.units) >= MAX_FIELDS and (key, field) not in self.units:
                self.dropped += 1
                return
            self.units[(key, field)] += units

    def pending(self) -> int:
        with self.lock:
            return len(self.units)

    def send(self, client: redis.Redis, *, only_if_due: bool = False) -> None:
        """Send everything buffered in one pipeline; on a Redis error keep it and pause."""
        now = time.monotonic()
        with self.lock:
            self.client = client
            paused_client, paused_until = self.paused
            if only_if_due and now - self.sent_at < FLUSH_SECONDS:
                return
            if not self.units or (client is paused_client and now < paused_until):
                return
            pending, self.units = self.units, defaultdict(float)
            self.sent_at = now
        try:  # outside the lock: recording threads never wait on Redis
            pipe = client.pipeline(transaction=False)
            for (key, field), units in pending.items():
                pipe.hincrbyfloat(key, field, units)
            for key in {key for key, _ in pending}:
                pipe.expire(key, KEEP_DAYS * 24 * 3600)
            pipe.execute()
        except redis.RedisError as exc:
            with self.lock:
                self.paused = (client, time.monotonic() + PAUSE_AFTER_ERROR)
                for item, units in pending.items():
                    self.units[item] += units
            log.warning(
                "capacity: could not send %d counters to Redis (%s); kept, next try in %.0f s",
                len(pending), type(exc).__name__, PAUSE_AFTER_ERROR,
            )  # fmt: skip
        if self.dropped:
            log.warning("capacity: buffer full, %d units records dropped", self.dropped)
            self.dropped = 0


_buffers: weakref.WeakSet[_Buffer] = weakref.WeakSet()
_setup_lock = threading.Lock()


def _buffer() -> _Buffer:
    with _setup_lock:
        buffer = current_app.extensions.get("capacity_buffer")
        if buffer is None:
            buffer = current_app.extensions["capacity_buffer"] = _Buffer()
            _buffers.add(buffer)
    return buffer


def record(table: str, operation: str, read_units: float, write_units: float,
           now: datetime | None = None) -> None:  # fmt: skip
    """Add one call's consumed units: buffered inside a request, sent at once outside one."""
    if not read_units and not write_units:
        return
    key = hour_key(now or datetime.now(UTC))
    buffer = _buffer()
    if read_units:
        buffer.add(key, f"{table}|{operation}|read", read_units)
    if write_units:
        buffer.add(key, f"{table}|{operation}|write", write_units)
    if not has_request_context():
        buffer.send(get_redis())


def flush() -> None:
    """Send the current app's buffered units now (unless its Redis failed moments ago)."""
    _buffer().send(get_redis())


def flush_if_due() -> None:
    """At a request's end: send the buffer if ``FLUSH_SECONDS`` passed since the last send."""
    if has_app_context():
        buffer = current_app.extensions.get("capacity_buffer")
        if buffer is not None:
            buffer.send(get_redis(), only_if_due=True)


def discard_pending() -> None:
    """Forget every app's buffered units in this process (tests: no units from earlier tests)."""
    for buffer in list(_buffers):
        with buffer.lock:
            buffer.units.clear()


@atexit.register
def _flush_at_exit() -> None:
    for buffer in list(_buffers):
        if buffer.client is not None:
            buffer.send(buffer.client)


def usage(start: datetime, end: datetime) -> dict[str, dict[str, float]]:
    """Units per table and operation over ``[start, end)``, whole hours:
    ``{"<table>": {"read": r, "write": w, "<operation>.read": ..., ...}}``."""
    flush()
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
