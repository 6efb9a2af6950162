"""Dependency checks for /readyz and the scrape: PostgreSQL, Redis and DynamoDB, in parallel.

/readyz is public: every uncached answer starts three threads, checks out a pool connection and
calls DescribeTable. ``current_checks()`` therefore keeps each app's last result for
``READYZ_CACHE_SECONDS`` (default 1 s) and lets one check run at a time per process; callers
arriving meanwhile wait for it and share its result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import boto3
from botocore.config import Config
from flask import Flask, current_app
from sqlalchemy import text

from bellyfed.config import ConfigError

Checks = dict[str, dict[str, Any]]


def _postgresql() -> None:
    from bellyfed.extensions import db

    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _redis() -> None:
    from bellyfed.redis_client import get_redis

    get_redis().ping()


def _dynamodb() -> None:
    from bellyfed.dynamo import table_name

    client = current_app.extensions.get("dynamodb_probe")
    if client is None:  # its own client: one attempt, short timeouts, not counted as app traffic
        client = boto3.session.Session().client(
            "dynamodb",
            region_name=current_app.config["AWS_REGION"],
            endpoint_url=current_app.config["AWS_ENDPOINT_URL_DYNAMODB"],
            config=Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1}),
        )
        current_app.extensions["dynamodb_probe"] = client
    logical = current_app.config.get("READYZ_DYNAMODB_TABLE", "sessions")
    client.describe_table(TableName=table_name(logical))


CHECKS: dict[str, Callable[[], None]] = {
    "postgresql": _postgresql,
    "redis": _redis,
    "dynamodb": _dynamodb,
}


def _timed(app: Flask, check: Callable[[], None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with app.app_context():
            check()
        result: dict[str, Any] = {"status": "ok"}
    except Exception as exc:  # any failure means "not ready"; the class name says which kind
        result = {"status": "error", "error": type(exc).__name__}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def check_dependencies() -> Checks:
    """Each dependency's status and latency, checked now, in parallel under one deadline."""
    app = current_app._get_current_object()
    deadline = float(app.config.get("READYZ_TIMEOUT_SECONDS", 1.5))
    executor = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="readyz")
    futures = {name: executor.submit(_timed, app, check) for name, check in CHECKS.items()}
    # Don't wait for a hung check: its thread ends on its own timeout, after we have answered.
    executor.shutdown(wait=False)
    wait(futures.values(), timeout=deadline)
    return {
        name: future.result()
        if future.done()
        else {"status": "timeout", "latency_ms": round(deadline * 1000, 1)}
        for name, future in futures.items()
    }


class _Cached:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.checked_at = float("-inf")
        self.checks: Checks = {}


_setup_lock = threading.Lock()


def current_checks() -> Checks:
    """``check_dependencies()``, reused for ``READYZ_CACHE_SECONDS`` after it answered."""
    app = current_app._get_current_object()
    ttl = float(app.config.get("READYZ_CACHE_SECONDS", 1.0))
    with _setup_lock:
        cached = app.extensions.setdefault("readyz_cache", _Cached())
    with cached.lock:  # one check in flight per app and process; the others wait and reuse it
        if time.monotonic() - cached.checked_at >= ttl:
            cached.checks = check_dependencies()
            cached.checked_at = time.monotonic()  # from the answer: a slow check is not stale
        return cached.checks


def check_settings(app: Flask) -> None:
    """Refuse to start on a bad ``READYZ_TIMEOUT_SECONDS`` or ``READYZ_CACHE_SECONDS``."""
    if not 0 < _number(app, "READYZ_TIMEOUT_SECONDS", 1.5) <= 10:
        raise ConfigError("READYZ_TIMEOUT_SECONDS must be a number of seconds above 0, up to 10")
    if not 0 <= _number(app, "READYZ_CACHE_SECONDS", 1.0) <= 60:
        raise ConfigError("READYZ_CACHE_SECONDS must be a number of seconds from 0 to 60")


def _number(app: Flask, name: str, default: float) -> float:
    try:
        return float(app.config.get(name, default))
    except (TypeError, ValueError):
        return float("nan")  # fails every range check
