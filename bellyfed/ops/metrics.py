"""Prometheus metrics counted in the web process as things happen: HTTP requests, the SQLAlchemy
pool, cache lookups, slow queries and lost analytics events (names and meanings:
``docs/monitoring.md``).

The rest of /metrics lives beside this module: DynamoDB calls in ``dynamo_metrics.py`` (boto3
event hooks), Celery task stats in ``task_stats.py`` (kept in Redis by the worker processes), and
the state read when a scrape comes in, plus the assembly of the page, in ``scrape.py``.

gunicorn runs several worker processes, so with ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn.conf.py
sets it in its workers) these live in prometheus_client's per-process files there and whichever
process answers a scrape sums them all; without it (tests, ``flask run``) the ordinary in-process
registry is used.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bellyfed.ops import capacity

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
    "Cache lookups by cache (search, api, page) and result (hit, miss, error).",
    ["cache", "result"],
)
LOST_EVENTS = Counter(
    "bellyfed_analytics_lost_events", "Analytics events dropped because Redis was unreachable."
)


def count_cache_lookup(cache: str, result: str) -> None:
    """One lookup in the search, API or page cache: ``hit``, ``miss`` or ``error``."""
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
    capacity.flush_if_due()  # the DynamoDB units this process buffered, every few seconds
    return response


def count_lost_events(count: int) -> None:
    """Analytics events dropped because Redis was unreachable (called by the sender as it drops
    them, so the counter is current even when no request follows in that process)."""
    LOST_EVENTS.inc(count)


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


def init_app(app: Flask) -> None:
    """Time and count every request; watch this app's connection pools."""
    app.before_request(_start_timer)
    app.after_request(_observe)
    with app.app_context():
        from bellyfed.extensions import db

        for engine in db.engines.values():
            watch_pool(engine)
