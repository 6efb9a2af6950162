"""Celery task stats: recorded in Redis by the worker processes, read by the web's /metrics.

    ``bellyfed:metrics:tasks``  HASH  ``<task>|state|<STATE>`` -> runs,
                                      ``<task>|le|<bucket>`` -> runs, ``<task>|sum|`` -> seconds

Redis, not prometheus_client's files: the worker processes serve no HTTP, may run on other hosts,
and the web's files are wiped at every gunicorn start; Redis is already shared by both, HINCRBY is
atomic across processes, and the totals survive restarts of either side.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import redis
from celery.signals import task_postrun, task_prerun
from flask import Flask
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric

from bellyfed.redis_client import get_redis

log = logging.getLogger(__name__)
TASK_STATS = "bellyfed:metrics:tasks"
TASK_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)
_task_started: dict[str, float] = {}


def record_task(name: str, state: str, seconds: float | None) -> None:
    """Add one finished task run to the shared stats (a Redis error loses it, logged)."""
    pipe = get_redis().pipeline(transaction=False)
    pipe.hincrby(TASK_STATS, f"{name}|state|{state}", 1)
    if seconds is not None:
        bucket = next((str(b) for b in TASK_BUCKETS if seconds <= b), "+Inf")
        pipe.hincrby(TASK_STATS, f"{name}|le|{bucket}", 1)
        pipe.hincrbyfloat(TASK_STATS, f"{name}|sum|", seconds)
    try:
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("metrics: could not record task %s: %s", name, exc)


def connect_task_signals(flask_app: Flask) -> None:
    """In a worker process: time every task and count how it ended (SUCCESS, FAILURE, RETRY)."""

    def started(task_id: str | None = None, **_: Any) -> None:
        _task_started[task_id or ""] = time.perf_counter()

    def finished(
        task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
    ) -> None:
        began = _task_started.pop(task_id or "", None)
        seconds = None if began is None else time.perf_counter() - began
        with flask_app.app_context():
            record_task(getattr(task, "name", None) or "unknown", state or "UNKNOWN", seconds)

    task_prerun.connect(started, weak=False, dispatch_uid="bellyfed-metrics-task-prerun")
    task_postrun.connect(finished, weak=False, dispatch_uid="bellyfed-metrics-task-postrun")


def disconnect_task_signals() -> None:
    """Undo ``connect_task_signals`` (tests)."""
    task_prerun.disconnect(dispatch_uid="bellyfed-metrics-task-prerun")
    task_postrun.disconnect(dispatch_uid="bellyfed-metrics-task-postrun")


def task_families(raw: dict[bytes, bytes]) -> Iterator[Metric]:
    """The task counter and duration histogram from the hash's fields (HGETALL)."""
    runs = CounterMetricFamily(
        "bellyfed_celery_tasks", "Finished Celery task runs by state.", labels=["task", "state"]
    )
    durations = HistogramMetricFamily(
        "bellyfed_celery_task_duration_seconds", "Celery task run time.", labels=["task"]
    )
    buckets: dict[str, dict[str, float]] = {}
    for field, value in sorted(raw.items()):
        task, kind, arg = field.decode().rsplit("|", 2)
        if kind == "state":
            runs.add_metric([task, arg], float(value))
        else:  # "le|<bound>" or "sum|"
            buckets.setdefault(task, {})[arg or kind] = float(value)
    for task, counts in buckets.items():
        cumulative, total = [], 0.0
        for bound in [*(str(b) for b in TASK_BUCKETS), "+Inf"]:
            total += counts.get(bound, 0.0)
            cumulative.append((bound, total))
        durations.add_metric([task], cumulative, sum_value=counts.get("sum", 0.0))
    yield runs
    yield durations
