"""The app's view of flags: the in-process cache, declared defaults, exposures."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from flask import g

from bellyfed import flags
from bellyfed.analytics.flush import flush
from bellyfed.dynamo import counters
from bellyfed.dynamo import flags as storage
from bellyfed.flags import DECLARED, Declared, flag_on, variant
from bellyfed.flags.evaluate import Flag
from tests.flags.conftest import BROWSER, dynamodb_down, experiment, on_for_everyone, store


@pytest.fixture
def reads(app, flags_table, monkeypatch):
    """Count the table reads the service makes."""
    calls = []
    real = storage.list_all

    def counting():
        calls.append(1)
        return real()

    monkeypatch.setattr(storage, "list_all", counting)
    return calls


def test_within_the_ttl_a_second_read_makes_no_dynamodb_call(app, reads):
    with app.app_context():
        store(on_for_everyone("cached-flag"))
    for _ in range(5):
        with app.test_request_context("/"):
            assert flag_on("cached-flag")
            assert variant("no-such-experiment") == ""
    assert len(reads) == 1


def test_a_stale_cache_is_read_again_once(app, reads, monkeypatch):
    with app.test_request_context("/"):
        flag_on("anything")
        flags.cache().read_at = time.monotonic() - app.config["FLAGS_CACHE_SECONDS"] - 1
    with app.test_request_context("/"):
        flag_on("anything")
        flag_on("anything-else")
    assert len(reads) == 2


def test_a_flag_not_stored_answers_its_declared_default(app, flags_table, monkeypatch, caplog):
    monkeypatch.setitem(DECLARED, "on-by-default", Declared(default=True, description="t"))
    for _ in range(3):
        with app.test_request_context("/"):
            assert flag_on("on-by-default")
            assert not flag_on("leaderboard-compact-layout")
            assert not flag_on("never-declared")
    assert caplog.text.count("on-by-default is not stored") == 1  # logged once, not per request
    assert caplog.text.count("never-declared is neither stored nor declared") == 1


def test_dynamodb_down_falls_back_to_declared_defaults(app, flags_table, monkeypatch, caplog):
    monkeypatch.setitem(DECLARED, "on-by-default", Declared(default=True, description="t"))
    with app.app_context():
        store(Flag(name="on-by-default", enabled=False))  # stored off, but unreadable below
    with dynamodb_down(app):
        for _ in range(2):
            with app.test_request_context("/"):
                assert flag_on("on-by-default")
                assert variant("home-search-placeholder") == "dish"
                assert "analytics_events" not in g  # no exposure for a fallback
                assert not flags.cache().healthy
    assert caplog.text.count("DynamoDB unreadable") == 1


def test_an_outage_keeps_serving_the_last_copy_read(app, flags_table):
    with app.app_context():
        store(on_for_everyone("kill-switch"))
    with app.test_request_context("/"):
        assert flag_on("kill-switch")
        flags.cache().read_at = 0.0  # long stale: the next read goes to DynamoDB
    endpoint = app.config["AWS_ENDPOINT_URL_DYNAMODB"]
    resource = app.extensions.pop("dynamodb")
    app.config["AWS_ENDPOINT_URL_DYNAMODB"] = "http://127.0.0.1:1"
    try:
        with app.test_request_context("/"):
            assert flag_on("kill-switch")
            assert not flags.cache().healthy
    finally:
        app.config["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
        app.extensions["dynamodb"] = resource


def test_one_exposure_per_request_per_experiment(app, flags_table):
    with app.app_context():
        store(experiment(a=50, b=50))
    with app.test_request_context("/"):
        first = variant("test-exp")
        assert all(variant("test-exp") == first for _ in range(3))
        assert g.analytics_events == [("metric", f"exposure:test-exp:{first}", False)]


def test_exposures_reach_the_analytics_table_once_per_request(browser, flags_table, redis_client):
    with browser.application.app_context():
        store(experiment("home-search-placeholder", dish=50, craving=50))
    for _ in range(3):
        assert browser.get("/", headers=BROWSER).status_code == 200
    with browser.application.app_context():
        flush(redis_client)
        totals = {v: counters.count(f"metric#exposure:home-search-placeholder:{v}")
                  for v in ("dish", "craving")}  # fmt: skip
    assert sum(totals.values()) == 3
    assert sorted(totals.values()) == [0, 3]  # the same visitor stays in one variant


def test_a_stopped_experiment_counts_nothing(app, flags_table):
    with app.app_context():
        store(replace(experiment(a=0, b=1), enabled=False))
    with app.test_request_context("/"):
        assert variant("test-exp") == "a"
        assert "analytics_events" not in g
