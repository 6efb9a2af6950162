"""The slow-query log: statements over ``SLOW_QUERY_MS`` go to the ``bellyfed.slowquery`` logger.

Each entry has the duration, the statement (whitespace collapsed, cut at ``MAX_STATEMENT``
characters; parameter *values* are never logged, only how many there were) and, for a SELECT,
its ``EXPLAIN`` plan. The plan comes from a separate, short-lived connection outside the pool
(so a saturated pool cannot block it and it fires no events of its own); plain EXPLAIN only plans,
never runs the statement. It is planned with the real values, as the query was, so the plan
shows them: its string literals are masked, which covers names, emails and token digests.
All of it is best effort: nothing here can fail the request.
"""

from __future__ import annotations

import logging
import re
import time
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
_STARTED = "bellyfed_slowlog_started"
_SELECT = re.compile(r"^\s*(\(\s*)*(SELECT|WITH)\b", re.IGNORECASE)
_STRING = re.compile(r"'(?:[^']|'')*'")


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


def shorten(statement: str) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= MAX_STATEMENT else flat[:MAX_STATEMENT] + " …"


def _parameter_count(parameters: Any) -> int:
    try:
        return len(parameters or ())
    except TypeError:
        return 1


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


def _report(url: URL, statement: str, parameters: Any, executemany: bool, ms: float) -> None:
    try:
        SLOW_QUERIES.inc()
        plan = "(not a SELECT: no plan)"
        if _SELECT.match(statement) and not executemany:
            try:
                plan = explain(url, statement, parameters)
            except Exception as exc:  # best effort: a missing plan must not fail the request
                plan = f"(plan unavailable: {type(exc).__name__}: {str(exc).strip()[:200]})"
        log.warning(
            "slow query: %.0f ms (%d parameters elided)\n%s\nplan:\n%s",
            ms, _parameter_count(parameters), shorten(statement), plan,
            extra={"duration_ms": round(ms, 1)},
        )  # fmt: skip
    except Exception:  # the log itself must never fail the request either
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
