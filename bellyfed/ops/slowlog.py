"""The slow-query log: statements over ``SLOW_QUERY_MS`` go to the ``bellyfed.slowquery`` logger.

Each entry has the duration, a fingerprint of the statement text (``[a1b2c3d4e5f6]``), the
statement (whitespace collapsed, cut at ``MAX_STATEMENT`` characters; parameter *values* are
never logged, only how many there were) and, for a SELECT, what became of its plan.

The plan is made off the request path: one daemon thread per process takes SELECTs from a bounded
queue (full: the plan is skipped, never waited for) and logs ``slow query plan [<fingerprint>]``
as a second entry. So at most one EXPLAIN runs per process, and each distinct statement text is
explained at most once per ``EXPLAIN_EVERY_SECONDS``. The EXPLAIN uses its own short-lived
connection outside the pool (a saturated pool cannot block it; it fires no events of its own) with
a statement timeout; plain EXPLAIN only plans, never runs the statement. It is planned with the
real values, as the query was, so the plan shows them: its string literals are masked, which
covers names, emails and token digests. A failure is logged as its class and SQLSTATE only (the
server's message can quote the statement with its values). Nothing here can fail the request.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Mapping
from typing import Any

import psycopg
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine

from bellyfed.config import ConfigError
from bellyfed.ops.metrics import SLOW_QUERIES

log = logging.getLogger("bellyfed.slowquery")
DEFAULT_MS = 200
MAX_STATEMENT = 2000
EXPLAIN_TIMEOUT_MS = 2000
EXPLAIN_EVERY_SECONDS = 600
QUEUE_SIZE = 16
REMEMBERED = 1000  # statement fingerprints kept for EXPLAIN_EVERY_SECONDS
_STARTED = "bellyfed_slowlog_started"
_SELECT = re.compile(r"^\s*(\(\s*)*(SELECT|WITH)\b", re.IGNORECASE)
_STRING = re.compile(r"'(?:[^']|'')*'")

Job = tuple[URL, str, Any, str]  # engine URL, statement, parameters, fingerprint
_lock = threading.Lock()
_explained: dict[str, float] = {}  # fingerprint -> when it was last queued (monotonic)
_jobs: queue.Queue[Any] | None = None
_thread: threading.Thread | None = None


def threshold_ms(app: Flask) -> float:
    """``SLOW_QUERY_MS`` as a number (0 turns the log off); a bad value refuses to start."""
    raw = app.config.get("SLOW_QUERY_MS", DEFAULT_MS)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if value < 0:
        raise ConfigError(f"SLOW_QUERY_MS must be a number of milliseconds >= 0, got {raw!r}")
    return value


def explain(url: URL, statement: str, parameters: Any) -> str:
    """The planner's plan for ``statement`` with these parameters, from its own connection."""
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    options = f"-c statement_timeout={EXPLAIN_TIMEOUT_MS}"
    with psycopg.connect(dsn, connect_timeout=2, autocommit=True, options=options) as conn:
        # Client-side binding: the statement keeps SQLAlchemy's %(name)s placeholders, and
        # literal values let the planner see them as the original query did.
        cursor = psycopg.ClientCursor(conn)
        rows = cursor.execute(f"EXPLAIN {statement}", parameters).fetchall()
    return _STRING.sub("'…'", "\n".join(row[0] for row in rows))


def describe_failure(exc: BaseException) -> str:
    """The error's class and SQLSTATE: never its message, which may quote values."""
    sqlstate = getattr(exc, "sqlstate", None)
    return f"{type(exc).__name__} (SQLSTATE {sqlstate})" if sqlstate else type(exc).__name__


def fingerprint(statement: str) -> str:
    return hashlib.sha256(statement.encode()).hexdigest()[:12]


def shorten(statement: str) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= MAX_STATEMENT else flat[:MAX_STATEMENT] + " …"


def _parameter_count(parameters: Any) -> int:
    try:
        return len(parameters or ())
    except TypeError:
        return 1


# --- The plan thread ---------------------------------------------------------------------------


def _claim(key: str) -> bool:
    """Whether this statement is due for a plan; if so, it counts as explained from now."""
    now = time.monotonic()
    with _lock:
        last = _explained.pop(key, None)
        if last is not None and now - last < EXPLAIN_EVERY_SECONDS:
            _explained[key] = last
            return False
        if len(_explained) >= REMEMBERED:
            for old in [k for k, at in _explained.items() if now - at >= EXPLAIN_EVERY_SECONDS]:
                del _explained[old]
            while len(_explained) >= REMEMBERED:  # oldest first: dicts keep insertion order
                del _explained[next(iter(_explained))]
        _explained[key] = now
        return True


def _queue() -> queue.Queue[Any]:
    """This process's plan queue, its thread started on first use."""
    global _jobs, _thread
    with _lock:
        if _jobs is None or _thread is None or not _thread.is_alive():
            _jobs = queue.Queue(maxsize=QUEUE_SIZE)
            _thread = threading.Thread(
                target=_explain_forever, args=(_jobs,), name="slowlog-explain", daemon=True
            )
            _thread.start()
        return _jobs


def _enqueue(job: Job) -> bool:
    try:
        _queue().put_nowait(job)
    except queue.Full:
        with _lock:
            _explained.pop(job[3], None)  # not explained after all: the next one may be
        return False
    return True


def _explain_forever(jobs: queue.Queue[Any]) -> None:
    while True:
        url, statement, parameters, key = jobs.get()
        try:
            plan = explain(url, statement, parameters)
            log.warning("slow query plan [%s]:\n%s", key, plan)
        except Exception as exc:  # best effort: log what kind of failure, and go on
            log.warning("slow query plan [%s] unavailable: %s", key, describe_failure(exc))
        finally:
            jobs.task_done()


def wait_for_plans(timeout: float = 5.0) -> bool:
    """Wait until every queued plan is logged (tests, CLI); False if ``timeout`` ran out."""
    deadline = time.monotonic() + timeout
    while _jobs is not None and _jobs.unfinished_tasks:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _forget_thread_after_fork() -> None:
    # The child has no plan thread, and the lock may have been held by a thread that is gone.
    global _lock, _jobs, _thread
    _lock, _jobs, _thread = threading.Lock(), None, None


os.register_at_fork(after_in_child=_forget_thread_after_fork)


# --- Watching the engine -----------------------------------------------------------------------


def watch(engine: Engine, limit_ms: float) -> None:
    """Log this engine's statements slower than ``limit_ms``."""

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:  # fmt: skip
        conn.info.setdefault(_STARTED, []).append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
              executemany: bool) -> None:  # fmt: skip
        started = conn.info.get(_STARTED)
        if not started:
            return
        elapsed_ms = (time.perf_counter() - started.pop()) * 1000
        if elapsed_ms >= limit_ms:
            _report(engine.url, statement, parameters, executemany, elapsed_ms)

    def failed(context: Any) -> None:  # the statement raised: drop its start time
        started = context.connection.info.get(_STARTED) if context.connection else None
        if started:
            started.pop()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)


def _plan_note(url: URL, statement: str, parameters: Any, executemany: bool,
               key: str) -> tuple[str, Job | None]:  # fmt: skip
    """What the entry says about the plan, and the EXPLAIN job to queue, if any."""
    if not _SELECT.match(statement) or executemany:
        return "(not a SELECT: no plan)", None
    if _queue().full():
        return "(skipped: the EXPLAIN queue is full)", None
    if not _claim(key):
        minutes = EXPLAIN_EVERY_SECONDS // 60
        return f"(explained within the last {minutes} minutes: see slow query plan [{key}])", None
    # A copy: the job outlives this execution.
    values = dict(parameters) if isinstance(parameters, Mapping) else parameters
    if isinstance(values, list):
        values = tuple(values)
    return f"(follows as slow query plan [{key}])", (url, statement, values, key)


def _report(url: URL, statement: str, parameters: Any, executemany: bool, ms: float) -> None:
    try:
        SLOW_QUERIES.inc()
        key = fingerprint(statement)
        plan, job = _plan_note(url, statement, parameters, executemany, key)
        log.warning(
            "slow query: %.0f ms (%d parameters elided) [%s]\n%s\nplan: %s",
            ms, _parameter_count(parameters), key, shorten(statement), plan,
            extra={"duration_ms": round(ms, 1), "statement_fingerprint": key},
        )  # fmt: skip
        # Queued after the entry is logged, so its plan always comes second.
        if job is not None and not _enqueue(job):
            log.warning("slow query plan [%s] skipped: the EXPLAIN queue is full", key)
    except Exception:  # the log itself must never fail the request
        log.exception("slow query log failed")


def init_app(app: Flask) -> None:
    """Watch every engine of this app (``SLOW_QUERY_MS``, default 200; 0 turns it off)."""
    limit = threshold_ms(app)
    if not limit:
        return
    with app.app_context():
        from bellyfed.extensions import db

        for engine in db.engines.values():
            watch(engine, limit)
