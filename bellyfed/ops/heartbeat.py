"""Worker and beat liveness, kept in Redis: beat schedules the beat, a worker records it."""

from __future__ import annotations

import time

import redis

KEY = "bellyfed:heartbeat:worker"
TTL_SECONDS = 120


def record_heartbeat(client: redis.Redis, now: float | None = None) -> float:
    """Store the time a worker last ran the heartbeat task."""
    stamp = time.time() if now is None else now
    client.set(KEY, repr(stamp), ex=TTL_SECONDS)
    return stamp


def last_heartbeat(client: redis.Redis) -> float | None:
    """When a worker last ran the heartbeat, or None if none has in the last two minutes."""
    raw = client.get(KEY)
    return float(raw) if raw is not None else None
