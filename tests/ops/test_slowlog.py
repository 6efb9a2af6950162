"""The slow-query log: slow statements are logged, their plans follow from a background thread
(once per statement text per ten minutes), parameter values never appear, and nothing about it
can fail or hold up the query that triggered it."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import text

from bellyfed.extensions import db
from bellyfed.ops import slowlog
from tests.conftest import make_test_app


@pytest.fixture(scope="module")
def slow_app(app, database_url, aws_endpoint) -> Iterator[Flask]:
    """An app whose threshold is 50 ms, on the test database."""
    slow = make_test_app(database_url, aws_endpoint, SLOW_QUERY_MS=50)
    yield slow
    with slow.app_context():
        db.engine.dispose()


@pytest.fixture
def slow_log(caplog, monkeypatch) -> Iterator[pytest.LogCaptureFixture]:
    """The log's records; every statement is due for a plan again (a fresh memory)."""
    caplog.set_level(logging.WARNING, logger="bellyfed.slowquery")
    monkeypatch.setattr(slowlog, "_explained", {})
    yield caplog
    assert slowlog.wait_for_plans(), "a plan was still being made after 5 s"


def entries(caplog) -> list[str]:
    """The slow-query entries, after the plans queued so far were logged."""
    assert slowlog.wait_for_plans()
    return [r.getMessage() for r in caplog.records if r.name == "bellyfed.slowquery"]


def query_and_plan(caplog) -> tuple[str, str]:
    """The one slow query's entry and the entry with its plan."""
    query, plan = entries(caplog)
    key = query.split("[", 1)[1].split("]", 1)[0]
    assert query.startswith("slow query: ")
    assert plan.startswith(f"slow query plan [{key}]")
    assert f"plan: (follows as slow query plan [{key}])" in query
    return query, plan


def test_a_slow_select_is_logged_with_its_plan_and_no_parameter_values(slow_app, slow_log):
    with slow_app.app_context():
        row = db.session.execute(
            text(
                "SELECT pg_sleep(:pause), :secret AS secret, "
                "(SELECT count(*) FROM restaurants WHERE name = :secret AND id > :low) AS n"
            ),
            {"pause": 0.08, "secret": "hunter2@example.com", "low": 0},
        ).one()
        db.session.rollback()
    assert row.secret == "hunter2@example.com"
    entry, plan = query_and_plan(slow_log)
    assert int(entry.split()[2]) >= 80  # ms
    assert "(3 parameters elided)" in entry
    assert "SELECT pg_sleep(%(pause)s)" in entry
    assert "on restaurants" in plan  # the plan: a scan of restaurants, not its rows
    assert "(name = '…'::text)" in plan  # the value the plan was made with, masked
    assert "hunter2" not in entry + plan
    assert slow_log.records[0].duration_ms >= 80


def test_a_percent_sign_without_parameters_is_planned_as_written(slow_app, slow_log):
    with slow_app.app_context():
        db.session.execute(
            text("SELECT pg_sleep(0.06), (SELECT count(*) FROM restaurants WHERE name LIKE 'a%')")
        )
        db.session.rollback()
    _, plan = query_and_plan(slow_log)
    assert "unavailable" not in plan
    assert "(name ~~ '…'::text)" in plan


def test_fast_statements_are_not_logged(slow_app, slow_log):
    with slow_app.app_context():
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    assert entries(slow_log) == []


def test_writes_are_logged_without_explain(slow_app, slow_log):
    with slow_app.app_context():
        db.session.execute(
            text("UPDATE restaurants SET name = name WHERE id = (SELECT -1 FROM pg_sleep(0.06))")
        )
        db.session.rollback()
    [entry] = entries(slow_log)
    assert "UPDATE restaurants" in entry
    assert "(not a SELECT: no plan)" in entry


def test_a_plan_that_cannot_be_made_never_fails_the_query(slow_app, slow_log):
    # The temporary table exists only in this session: the EXPLAIN connection cannot see it.
    with slow_app.app_context():
        db.session.execute(text("CREATE TEMPORARY TABLE scratch (n int)"))
        count = db.session.execute(
            text("SELECT (SELECT count(*) FROM scratch WHERE n::text <> 'private'), pg_sleep(0.06)")
        ).scalar()
        db.session.rollback()
    assert count == 0
    _, plan = query_and_plan(slow_log)
    # The class and SQLSTATE only: PostgreSQL's message quotes the statement ("LINE 1: ...").
    assert plan.endswith("unavailable: UndefinedTable (SQLSTATE 42P01)")
    assert "private" not in plan


def test_a_failing_statement_leaves_the_timer_balanced(slow_app, slow_log):
    with slow_app.app_context():
        with pytest.raises(Exception, match="division by zero"):
            db.session.execute(text("SELECT 1 / 0"))
        db.session.rollback()
        db.session.execute(text("SELECT pg_sleep(0.06)"))
        db.session.rollback()
    assert len([e for e in entries(slow_log) if e.startswith("slow query: ")]) == 1


def test_a_statement_is_explained_once_per_ten_minutes(slow_app, slow_log):
    with slow_app.app_context():
        for pause in (0.06, 0.07, 0.06):  # other values, the same statement text
            db.session.execute(text("SELECT pg_sleep(:pause)"), {"pause": pause})
        db.session.execute(text("SELECT pg_sleep(0.06), 'another'"))
        db.session.rollback()
    logged = entries(slow_log)
    queries = [e for e in logged if e.startswith("slow query: ")]
    plans = [e for e in logged if e.startswith("slow query plan [")]
    assert len(queries) == 4
    assert len(plans) == 2  # one per distinct statement text
    key = slowlog.fingerprint("SELECT pg_sleep(%(pause)s)")
    assert f"plan: (follows as slow query plan [{key}])" in queries[0]
    for repeat in queries[1:3]:
        assert (
            f"plan: (explained within the last 10 minutes: see slow query plan [{key}])" in repeat
        )


def test_the_query_never_waits_for_its_plan_and_a_full_queue_skips_plans(
    slow_app, slow_log, monkeypatch
):
    # The first plan waits for a lock this very transaction holds: the EXPLAIN thread is stuck,
    # the queue (one place here) fills, and further plans are skipped, not waited for.
    monkeypatch.setattr(slowlog, "QUEUE_SIZE", 1)
    monkeypatch.setattr(slowlog, "_jobs", None)  # a new queue of that size, with its thread
    monkeypatch.setattr(slowlog, "_thread", None)
    started = time.monotonic()
    with slow_app.app_context():
        db.session.execute(text("LOCK TABLE restaurants IN ACCESS EXCLUSIVE MODE"))
        for n in range(4):
            db.session.execute(
                text(f"SELECT pg_sleep(0.06), (SELECT count(*) FROM restaurants) AS n{n}")
            )
        elapsed = time.monotonic() - started
        db.session.rollback()  # the lock goes: the stuck EXPLAIN can finish
    assert elapsed < 1.0  # four statements of 60 ms, no EXPLAIN in between
    logged = entries(slow_log)
    queries = [e for e in logged if e.startswith("slow query: ")]
    plans = [e for e in logged if e.startswith("slow query plan [")]
    assert len(queries) == 4
    skipped = [q for q in queries if "(skipped: the EXPLAIN queue is full)" in q]
    assert len(skipped) >= 1
    assert len(plans) == 4 - len(skipped)


def test_long_statements_are_cut():
    statement = "SELECT " + ", ".join(f"column_{i}" for i in range(1000)) + " FROM t"
    short = slowlog.shorten(statement)
    assert len(short) <= slowlog.MAX_STATEMENT + 2
    assert short.endswith("…")
    assert slowlog.shorten("SELECT\n   1\n") == "SELECT 1"


def test_zero_turns_the_log_off(app, database_url, aws_endpoint, caplog):
    caplog.set_level(logging.WARNING, logger="bellyfed.slowquery")
    quiet = make_test_app(database_url, aws_endpoint, SLOW_QUERY_MS=0)
    with quiet.app_context():
        db.session.execute(text("SELECT pg_sleep(0.06)"))
        db.session.rollback()
        db.engine.dispose()
    assert entries(caplog) == []
