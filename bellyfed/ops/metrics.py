"""Prometheus metrics (``/metrics``): what is counted where, and how a scrape is put together.

Two kinds of source (names and meanings: ``docs/monitoring.md``):

- **Per process, as things happen**: HTTP requests, the SQLAlchemy pool, DynamoDB calls (boto3
  event hooks), cache lookups, slow queries, lost analytics events. gunicorn runs several worker
  processes, so with ``PROMETHEUS_MULTIPROC_DIR`` set (``gunicorn.conf.py`` sets it) these live in
  prometheus_client's per-process files there and whichever process answers a scrape sums them
  all; without it (tests, ``flask run``) the ordinary in-process registry is used.
- **Shared state, read at scrape time** (``ScrapeCollector``): Celery queue depth (LLEN on the
  broker), the analytics buffer and flush lag, the worker heartbeat, dependency checks, and the
  Celery task stats the worker processes keep in Redis (``record_task``). Those are in Redis, not
  in files, because the worker processes serve no HTTP, may run on other hosts, and the web's
  files are wiped at every gunicorn start; Redis is already shared by both, HINCRBY is atomic
  across processes, and the totals survive restarts of either side.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
from celery.signals import task_postrun, task_prerun
from flask import Flask, Response, current_app, g, has_app_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bellyfed.ops import capacity
from bellyfed.redis_client import get_redis

log = logging.getLogger(__name__)
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))

HTTP_REQUESTS = Counter(
    "bellyfed_http_requests",
    "HTTP responses by Flask endpoint, method and status.",
    ["endpoint", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "bellyfed_http_request_duration_seconds",
    "Time to build a response, by Flask endpoint.",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
# livesum: the web's total over its live worker processes (a dead process's files are dropped).
POOL_CHECKED_OUT = Gauge(
    "bellyfed_db_pool_checked_out", "PostgreSQL connections in use.", multiprocess_mode="livesum"
)
POOL_SIZE = Gauge("bellyfed_db_pool_size", "Configured pool_size.", multiprocess_mode="livesum")
POOL_OVERFLOW = Gauge(
    "bellyfed_db_pool_overflow", "Connections open beyond pool_size.", multiprocess_mode="livesum"
)
POOL_MAX = Gauge(
    "bellyfed_db_pool_max_connections",
    "pool_size + max_overflow: the most a pool hands out.",
    multiprocess_mode="livesum",
)
SLOW_QUERIES = Counter("bellyfed_db_slow_queries", "Statements slower than SLOW_QUERY_MS.")
CACHE_LOOKUPS = Counter(
    "bellyfed_cache_lookups",
    "Cache lookups by cache (search, api) and result (hit, miss, error).",
    ["cache", "result"],
)
LOST_EVENTS = Counter(
    "bellyfed_analytics_lost_events", "Analytics events dropped because Redis was unreachable."
)
DYNAMO_CALLS = Counter("bellyfed_dynamodb_calls", "DynamoDB API calls.", ["table", "operation"])
DYNAMO_ERRORS = Counter(
    "bellyfed_dynamodb_errors",
    "DynamoDB calls that failed, by error code.",
    ["table", "operation", "code"],
)
DYNAMO_THROTTLES = Counter(
    "bellyfed_dynamodb_throttles",
    "Throttled DynamoDB attempts, retried or not.",
    ["table", "operation"],
)
DYNAMO_CAPACITY = Counter(
    "bellyfed_dynamodb_consumed_capacity_units",
    "Consumed capacity (ReturnConsumedCapacity=TOTAL).",
    ["table", "operation", "kind"],
)
DYNAMO_LATENCY = Histogram(
    "bellyfed_dynamodb_call_duration_seconds",
    "DynamoDB call time, retries included.",
    ["table", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def count_cache_lookup(cache: str, result: str) -> None:
    """One lookup in the search or API cache: ``hit``, ``miss`` or ``error``."""
    CACHE_LOOKUPS.labels(cache, result).inc()


# --- HTTP requests -----------------------------------------------------------------------------


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    # The endpoint name, never the raw path: a label per URL would be unbounded.
    endpoint = request.endpoint or "unmatched"
    method = request.method if request.method in METHODS else "other"
    HTTP_REQUESTS.labels(endpoint, method, str(response.status_code)).inc()
    started = g.pop("metrics_started", None)
    if started is not None:
        HTTP_LATENCY.labels(endpoint, method).observe(time.perf_counter() - started)
    _count_lost_events()
    return response


_lost_lock = threading.Lock()
_lost_seen = 0


def _count_lost_events() -> None:
    """Add what ``analytics.events.lost_events`` (a per-process int) gained to the counter."""
    global _lost_seen
    from bellyfed.analytics import events

    with _lost_lock:
        gained, _lost_seen = events.lost_events - _lost_seen, events.lost_events
    if gained > 0:
        LOST_EVENTS.inc(gained)


# --- The SQLAlchemy pool -----------------------------------------------------------------------


def watch_pool(engine: Engine) -> None:
    """Keep the pool gauges current on every checkout and checkin."""
    pool = engine.pool
    if not hasattr(pool, "overflow"):  # NullPool / StaticPool: nothing to report
        return
    POOL_SIZE.set(pool.size())
    POOL_MAX.set(pool.size() + max(getattr(pool, "_max_overflow", 0), 0))

    def update(in_flight: int) -> None:
        current = engine.pool  # dispose() swaps the pool; the listeners move with it
        POOL_CHECKED_OUT.set(max(current.checkedout() + in_flight, 0))
        POOL_OVERFLOW.set(max(current.overflow(), 0))

    # A checkin is reported before the pool takes the connection back: count it as returned.
    event.listen(engine, "checkout", lambda *_: update(0))
    event.listen(engine, "checkin", lambda *_: update(-1))


# --- DynamoDB (boto3 event hooks) --------------------------------------------------------------

READS = frozenset(("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"))
THROTTLE_CODES = frozenset(
    ("ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded")
)
_TABLE, _STARTED = "bellyfed_table", "bellyfed_started"


def table_of(params: dict[str, Any]) -> str:
    """The table a call is about; batch and transaction calls over several tables say so."""
    if "TableName" in params:
        return str(params["TableName"])
    names = set(params.get("RequestItems") or ())
    for item in params.get("TransactItems") or ():
        operations = item.values() if isinstance(item, dict) else ()
        names.update(
            op["TableName"] for op in operations if isinstance(op, dict) and "TableName" in op
        )
    if len(names) == 1:
        return str(names.pop())
    return "multiple" if names else "none"


def _never_fail(hook: Callable[..., None]) -> Callable[..., None]:
    """A metrics hook that raised would fail the DynamoDB call itself: log it instead."""

    @functools.wraps(hook)
    def guarded(**kwargs: Any) -> None:
        try:
            hook(**kwargs)
        except Exception:
            log.exception("metrics: DynamoDB hook %s failed", hook.__name__)

    return guarded


@_never_fail
def _ask_for_capacity(params: dict[str, Any], model: Any, context: dict, **_: Any) -> None:
    context[_STARTED] = time.perf_counter()
    shape = model.input_shape
    if shape is not None and "ReturnConsumedCapacity" in shape.members:
        params.setdefault("ReturnConsumedCapacity", "TOTAL")
    context[_TABLE] = table_of(params)


@_never_fail
def _after_call(http_response: Any, parsed: dict, model: Any, context: dict, **_: Any) -> None:
    operation, table = model.name, context.get(_TABLE, "none")
    DYNAMO_CALLS.labels(table, operation).inc()
    if _STARTED in context:
        DYNAMO_LATENCY.labels(table, operation).observe(time.perf_counter() - context[_STARTED])
    if http_response.status_code >= 300:
        code = parsed.get("Error", {}).get("Code") or str(http_response.status_code)
        DYNAMO_ERRORS.labels(table, operation, code).inc()
    consumed = parsed.get("ConsumedCapacity") or []
    for entry in [consumed] if isinstance(consumed, dict) else consumed:
        read, write = capacity_units(operation, entry)
        name = entry.get("TableName", table)
        if read:
            DYNAMO_CAPACITY.labels(name, operation, "read").inc(read)
        if write:
            DYNAMO_CAPACITY.labels(name, operation, "write").inc(write)
        if has_app_context():
            capacity.record(name, operation, read, write)


def capacity_units(operation: str, entry: dict[str, Any]) -> tuple[float, float]:
    """(read, write) units of one ConsumedCapacity entry; TOTAL often gives only CapacityUnits."""
    read, write = entry.get("ReadCapacityUnits"), entry.get("WriteCapacityUnits")
    if read is None and write is None:
        units = float(entry.get("CapacityUnits") or 0)
        return (units, 0.0) if operation in READS else (0.0, units)
    return float(read or 0), float(write or 0)


@_never_fail
def _call_failed(exception: Exception, context: dict, **kwargs: Any) -> None:
    operation = kwargs.get("event_name", "").rsplit(".", 1)[-1] or "unknown"
    table = context.get(_TABLE, "none")
    DYNAMO_CALLS.labels(table, operation).inc()
    DYNAMO_ERRORS.labels(table, operation, type(exception).__name__).inc()


@_never_fail
def _count_throttle(response: Any, operation: Any, request_dict: dict, **_: Any) -> None:
    # Per attempt: botocore retries throttles itself, so after-call only sees the last one.
    if response is not None and response[1].get("Error", {}).get("Code") in THROTTLE_CODES:
        table = request_dict.get("context", {}).get(_TABLE, "none")
        DYNAMO_THROTTLES.labels(table, operation.name).inc()


def instrument_dynamodb(client: Any) -> None:
    """Count calls, errors, throttles, latency and consumed capacity of this DynamoDB client."""
    events = client.meta.events
    events.register(
        "provide-client-params.dynamodb.*", _ask_for_capacity, unique_id="bellyfed-metrics-ask"
    )
    events.register("after-call.dynamodb.*", _after_call, unique_id="bellyfed-metrics-after")
    events.register("after-call-error.dynamodb.*", _call_failed, unique_id="bellyfed-metrics-err")
    events.register("needs-retry.dynamodb.*", _count_throttle, unique_id="bellyfed-metrics-retry")


# --- Celery tasks (recorded in Redis by the worker processes) ----------------------------------

# HASH "<task>|state|<STATE>" -> runs, "<task>|le|<bucket>" -> runs, "<task>|sum|" -> seconds
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


# --- Read at scrape time -----------------------------------------------------------------------

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
    from bellyfed.ops.views import check_dependencies

    up = GaugeMetricFamily(
        "bellyfed_dependency_up",
        "1 if the dependency's readiness check passed at this scrape.",
        labels=["dependency"],
    )
    seconds = GaugeMetricFamily(
        "bellyfed_dependency_check_seconds", "How long that check took.", labels=["dependency"]
    )
    for name, result in check_dependencies().items():
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
    yield from _task_families(tasks)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def _task_families(raw: dict[bytes, bytes]) -> Iterator[Metric]:
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


def init_app(app: Flask) -> None:
    """Time and count every request; watch this app's connection pools."""
    app.before_request(_start_timer)
    app.after_request(_observe)
    with app.app_context():
        from bellyfed.extensions import db

        for engine in db.engines.values():
            watch_pool(engine)
