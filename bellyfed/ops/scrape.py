"""One /metrics scrape: the counted metrics plus shared state read at scrape time.

Read at scrape time (``ScrapeCollector``, inside the request's app context): dependency checks
(the same, cached, as /readyz), Celery queue depth (LLEN on the broker), the analytics buffer and
flush lag, the worker heartbeat and the Celery task stats the workers keep in Redis
(``task_stats.py``). A Redis that is down drops those series from the scrape, never the scrape.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

import redis
from flask import current_app
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from bellyfed.ops.task_stats import TASK_STATS, task_families
from bellyfed.redis_client import get_redis

log = logging.getLogger(__name__)
PRIORITY_SEPARATOR, PRIORITY_STEPS = "\x06\x16", (0, 3, 6, 9)  # kombu's Redis transport


class ScrapeCollector:
    """Shared state, read when /metrics is scraped (inside the request's app context)."""

    def collect(self) -> Iterator[Metric]:
        yield from _dependencies()
        try:
            yield from _redis_state()
        except redis.RedisError as exc:
            log.warning("metrics: Redis state unavailable for this scrape: %s", exc)
        try:
            yield from _queue_depths()
        except redis.RedisError as exc:
            log.warning("metrics: broker queue depth unavailable for this scrape: %s", exc)


def _dependencies() -> Iterator[Metric]:
    from bellyfed.ops.readiness import current_checks

    up = GaugeMetricFamily(
        "bellyfed_dependency_up",
        "1 if the dependency's readiness check passed at this scrape.",
        labels=["dependency"],
    )
    seconds = GaugeMetricFamily(
        "bellyfed_dependency_check_seconds", "How long that check took.", labels=["dependency"]
    )
    for name, result in current_checks().items():
        up.add_metric([name], 1.0 if result["status"] == "ok" else 0.0)
        seconds.add_metric([name], result["latency_ms"] / 1000)
    yield up
    yield seconds


def _redis_state() -> Iterator[Metric]:
    from bellyfed.analytics import keys
    from bellyfed.analytics.flush import DEAD
    from bellyfed.ops.heartbeat import KEY as HEARTBEAT

    pipe = get_redis().pipeline(transaction=False)
    pipe.get(keys.LAST_FLUSH).hlen(keys.BUFFER).hlen(DEAD).get(HEARTBEAT).hgetall(TASK_STATS)
    last_flush, buffered, dead, heartbeat, tasks = pipe.execute()
    now = time.time()
    # Never flushed / no heartbeat within its TTL: +Inf, so "older than" alerts fire.
    lag = now - float(last_flush) if last_flush else float("inf")
    age = now - float(heartbeat) if heartbeat else float("inf")
    yield _gauge("bellyfed_analytics_flush_lag_seconds", "Seconds since the last flush.", lag)
    yield _gauge("bellyfed_analytics_buffered_fields", "Distinct counters in the buffer.", buffered)
    yield _gauge("bellyfed_analytics_dead_items", "Items DynamoDB refused for good.", dead)
    yield _gauge("bellyfed_worker_heartbeat_age_seconds", "Since a worker's last heartbeat.", age)
    yield from task_families(tasks)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def _queue_depths() -> Iterator[Metric]:
    celery_app = current_app.extensions["celery"]
    url = celery_app.conf.broker_url or ""
    depth = GaugeMetricFamily(
        "bellyfed_celery_queue_depth",
        "Messages waiting in a Celery queue (LLEN on the broker).",
        labels=["queue"],
    )
    if url.startswith(("redis://", "rediss://", "unix://")):
        names = [celery_app.conf.task_default_queue]
        names += [q.name for q in celery_app.conf.task_queues or () if q.name not in names]
        pipe = _broker(url).pipeline(transaction=False)
        for name in names:
            for step in PRIORITY_STEPS:
                pipe.llen(f"{name}{PRIORITY_SEPARATOR}{step}" if step else name)
        lengths = pipe.execute()
        for index, name in enumerate(names):
            step_count = len(PRIORITY_STEPS)
            depth.add_metric([name], sum(lengths[index * step_count : (index + 1) * step_count]))
    yield depth


def _broker(url: str) -> redis.Redis:
    cached = current_app.extensions.get("metrics_broker")
    if cached is None or cached[0] != url:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        cached = current_app.extensions["metrics_broker"] = (url, client)
    return cached[1]


class _ThisProcess:
    """The in-process registry's metrics, for a scrape outside multiprocess mode."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition() -> tuple[bytes, str]:
    """The whole /metrics body and its content type."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(ScrapeCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST
