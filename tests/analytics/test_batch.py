"""Batched events: folded per process, sent in one pipeline, exact, and sent when a worker exits."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest
import redis

from bellyfed import PROJECT_ROOT
from bellyfed.analytics import events, keys
from tests.conftest import DYNAMODB_PREFIX, TEST_REDIS_URL, free_port, wait_for_port
from tests.factories import RestaurantFactory

BROWSER = {"User-Agent": "Mozilla/5.0 (Linux; Android 14) Chrome/130.0 Mobile"}


def views(redis_client, restaurant_id: int) -> int:
    return sum(
        int(count)
        for name, count in redis_client.hgetall(keys.BUFFER).items()
        if name.decode().startswith(f"view|restaurant:{restaurant_id}|")
    )


@pytest.fixture
def batched(app, monkeypatch):
    """Batching on, with a fresh batch whose sender waits long enough not to send mid-test."""
    monkeypatch.setitem(app.config, "ANALYTICS_BATCH_SECONDS", 60.0)
    monkeypatch.setattr(events, "batch", events.Batch())
    return events.batch


def test_views_wait_in_the_batch_then_arrive_exact_in_one_pipeline(
    client, batched, redis_client, monkeypatch
):
    restaurant = RestaurantFactory()
    for agent in ("Chrome/130 one", "Chrome/130 one", "Firefox/133 two"):
        client.get(
            f"/restaurants/{restaurant.slug}", headers={"User-Agent": f"Mozilla/5.0 {agent}"}
        )
    assert views(redis_client, restaurant.id) == 0  # nothing sent per request
    executed = []
    real_pipeline = batched._client.pipeline

    def counting_pipeline(**kwargs):
        pipe = real_pipeline(**kwargs)
        execute = pipe.execute
        pipe.execute = lambda: executed.append(len(pipe.command_stack)) or execute()
        return pipe

    monkeypatch.setattr(batched._client, "pipeline", counting_pipeline)
    events.send_pending()
    assert views(redis_client, restaurant.id) == 3
    [hll] = redis_client.keys(keys.HLL + f"view|restaurant:{restaurant.id}|*")
    assert redis_client.pfcount(hll) == 2  # two visitors
    assert executed == [3]  # one HINCRBY for the bucket, one PFADD and its EXPIRE
    events.send_pending()  # nothing pending: nothing sent twice
    assert views(redis_client, restaurant.id) == 3


def test_the_sender_thread_sends_on_its_own(client, app, redis_client, monkeypatch):
    monkeypatch.setitem(app.config, "ANALYTICS_BATCH_SECONDS", 0.1)
    monkeypatch.setattr(events, "batch", events.Batch())
    restaurant = RestaurantFactory()
    for _ in range(5):
        client.get(f"/restaurants/{restaurant.slug}", headers=BROWSER)
    deadline = time.monotonic() + 10
    while views(redis_client, restaurant.id) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert views(redis_client, restaurant.id) == 5


def test_redis_down_when_sending_counts_the_events_lost_and_pages_still_work(
    client, batched, caplog
):
    restaurant = RestaurantFactory()
    assert client.get(f"/restaurants/{restaurant.slug}", headers=BROWSER).status_code == 200
    batched._client = redis.Redis(port=free_port(), socket_connect_timeout=0.2)
    before = events.lost_events
    events.send_pending()
    assert events.lost_events == before + 1
    assert "1 event(s) lost" in caplog.text


def test_a_bad_interval_is_refused():
    from flask import Flask

    bad = Flask("bad")
    bad.config["ANALYTICS_BATCH_SECONDS"] = -1
    with pytest.raises(ValueError, match="ANALYTICS_BATCH_SECONDS"):
        events.init_app(bad)


def test_a_gunicorn_worker_sends_its_batch_when_it_stops(app, database_url, aws_endpoint,
                                                          redis_client):  # fmt: skip
    """As the Procfile runs it: API calls batched for a minute still count when the server stops."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": TEST_REDIS_URL,
           "CELERY_BROKER_URL": TEST_REDIS_URL, "AWS_ENDPOINT_URL_DYNAMODB": aws_endpoint,
           "DYNAMODB_TABLE_PREFIX": DYNAMODB_PREFIX, "PORT": str(port), "WEB_CONCURRENCY": "2",
           "WEB_ACCESS_LOG": "0", "ANALYTICS_BATCH_SECONDS": "60", "API_CACHE_SECONDS": "0"}  # fmt: skip
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "wsgi:app"], cwd=PROJECT_ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        wait_for_port(port, 30)
        for _ in range(7):
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/api/v1/dish-types", timeout=10
            ) as r:
                assert r.status == 200
        assert api_calls(redis_client) == 0  # still in the workers' batches
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert api_calls(redis_client) == 7


def api_calls(redis_client) -> int:
    return sum(
        int(count)
        for name, count in redis_client.hgetall(keys.BUFFER).items()
        if name.decode().startswith("metric|api_calls|")
    )
