"""Consumed capacity recording: buffered inside requests (no Redis round trip per DynamoDB call),
sent at once outside them, and a Redis that hangs is left alone for a while."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from flask import Flask, Response

from bellyfed.dynamo import table
from bellyfed.ops import capacity
from tests.conftest import TEST_REDIS_URL, make_test_app

NOW = datetime(2026, 3, 4, 5, 30, tzinfo=UTC)
KEY = capacity.hour_key(NOW)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and then never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.fixture
def fresh_app(app, database_url, aws_endpoint) -> Flask:
    """An app of its own, so its buffer holds only what the test recorded."""
    return make_test_app(database_url, aws_endpoint)


def recorded(client: redis.Redis) -> dict[str, float]:
    return {k.decode(): float(v) for k, v in client.hgetall(KEY).items()}


def test_outside_a_request_units_are_in_redis_at_once(fresh_app, redis_client):
    with fresh_app.app_context():
        capacity.record("t", "GetItem", 0.5, 0, now=NOW)
        capacity.record("t", "GetItem", 0.5, 0, now=NOW)
        capacity.record("t", "PutItem", 0, 2, now=NOW)
    assert recorded(redis_client) == {"t|GetItem|read": 1.0, "t|PutItem|write": 2.0}
    assert 0 < redis_client.ttl(KEY) <= capacity.KEEP_DAYS * 24 * 3600


def test_inside_a_request_units_wait_for_the_request_end(fresh_app, redis_client, monkeypatch):
    with fresh_app.test_request_context("/"):
        capacity.record("t", "Query", 1.5, 0, now=NOW)
        capacity.record("t", "Query", 1.5, 0, now=NOW)
        assert recorded(redis_client) == {}
        fresh_app.process_response(Response())  # not due yet: sent at most every few seconds
        assert recorded(redis_client) == {}
        monkeypatch.setattr(capacity, "FLUSH_SECONDS", 0)
        fresh_app.process_response(Response())  # the after_request hooks, as a request ends
    assert recorded(redis_client) == {"t|Query|read": 3.0}


def test_usage_and_flush_send_what_this_process_buffered(fresh_app, redis_client):
    with fresh_app.test_request_context("/"):
        capacity.record("t", "Scan", 4, 0, now=NOW)
        later = NOW + timedelta(hours=2)
        assert capacity.usage(later, later) == {}  # an empty window: nothing read ...
        assert recorded(redis_client) == {"t|Scan|read": 4.0}  # ... but the buffer went out
        capacity.record("t", "Scan", 1, 0, now=NOW)
        capacity.flush()
    assert recorded(redis_client) == {"t|Scan|read": 5.0}


def test_a_hung_redis_costs_one_timeout_then_is_skipped(app, database_url, aws_endpoint,
                                                        silent_port, redis_client,
                                                        monkeypatch):  # fmt: skip
    hung = make_test_app(database_url, aws_endpoint, REDIS_URL=f"redis://127.0.0.1:{silent_port}/0")
    monkeypatch.setattr(capacity, "FLUSH_SECONDS", 0)
    with hung.test_request_context("/"):
        started = time.monotonic()
        table("cache").get_item(Key={"pk": "CAPACITY#probe", "sk": "v#1"})  # records 0.5 units
        assert time.monotonic() - started < 0.4  # the call never waited on Redis
        capacity.record("t", "GetItem", 1, 0, now=NOW)
        started = time.monotonic()
        capacity.flush_if_due()  # tries, times out (0.5 s), keeps the units
        assert time.monotonic() - started >= 0.4
        for _ in range(5):
            capacity.record("t", "GetItem", 1, 0, now=NOW)
            started = time.monotonic()
            capacity.flush_if_due()
            assert time.monotonic() - started < 0.1  # paused: Redis is not asked again
        # Another Redis (the same one back, in production) gets everything kept meanwhile.
        hung.extensions["redis"] = redis.Redis.from_url(TEST_REDIS_URL)
        capacity.flush_if_due()
    assert recorded(redis_client) == {"t|GetItem|read": 6.0}
    assert sum(len(redis_client.hgetall(k)) for k in redis_client.keys("bellyfed:capacity:*")) == 2
