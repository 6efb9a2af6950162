"""The slow-query log: slow statements are logged with their plan, without parameter values,
and nothing about it can fail the query that triggered it."""

from __future__ import annotations

import logging
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
def slow_log(caplog) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="bellyfed.slowquery")
    return caplog


def entries(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bellyfed.slowquery"]


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
    [entry] = entries(slow_log)
    assert entry.startswith("slow query: ")
    assert int(entry.split()[2]) >= 80  # ms
    assert "(3 parameters elided)" in entry
    assert "SELECT pg_sleep(%(pause)s)" in entry
    assert "on restaurants" in entry  # the plan: a scan of restaurants, not its rows
    assert "(name = '…'::text)" in entry  # the value the plan was made with, masked
    assert "hunter2" not in entry
    assert slow_log.records[-1].duration_ms >= 80


def test_a_percent_sign_without_parameters_is_planned_as_written(slow_app, slow_log):
    with slow_app.app_context():
        db.session.execute(
            text("SELECT pg_sleep(0.06), (SELECT count(*) FROM restaurants WHERE name LIKE 'a%')")
        )
        db.session.rollback()
    [entry] = entries(slow_log)
    assert "plan unavailable" not in entry
    assert "(name ~~ '…'::text)" in entry


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
            text("SELECT (SELECT count(*) FROM scratch), pg_sleep(0.06)")
        ).scalar()
        db.session.rollback()
    assert count == 0
    [entry] = entries(slow_log)
    assert "plan unavailable: UndefinedTable" in entry


def test_a_failing_statement_leaves_the_timer_balanced(slow_app, slow_log):
    with slow_app.app_context():
        with pytest.raises(Exception, match="division by zero"):
            db.session.execute(text("SELECT 1 / 0"))
        db.session.rollback()
        db.session.execute(text("SELECT pg_sleep(0.06)"))
        db.session.rollback()
    assert len(entries(slow_log)) == 1


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
