"""A Redis client per app, built on first use from ``REDIS_URL`` (never at import time)."""

from __future__ import annotations

import redis
from flask import current_app


def get_redis() -> redis.Redis:
    """The current app's Redis client; short timeouts so a dead Redis degrades, not hangs."""
    client = current_app.extensions.get("redis")
    if client is None:
        client = redis.Redis.from_url(
            current_app.config["REDIS_URL"],
            socket_connect_timeout=0.5,
            socket_timeout=0.5,
            health_check_interval=30,
        )
        current_app.extensions["redis"] = client
    return client
