"""A real Celery worker SIGKILLed in the middle of a flush: nothing lost, nothing doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

from boto3.dynamodb.conditions import Attr

from bellyfed.analytics import keys
from bellyfed.analytics.flush import flush, leftover_batches
from bellyfed.dynamo import table
from tests.conftest import DYNAMODB_PREFIX, TEST_REDIS_URL

RESTAURANTS = range(990_001, 990_301)  # 300 entities: ~600 writes, several seconds on moto
VIEWS_EACH = 2


def written_totals() -> dict[str, int]:
    items, start = {}, None
    while True:
        kwargs = {
            "FilterExpression": Attr("sk").eq("TOTAL")
            & Attr("pk").begins_with("view#restaurant:990")
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = table("analytics").scan(**kwargs)
        items.update({item["pk"]: int(item["n"]) for item in page["Items"]})
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def test_sigkill_mid_flush_then_redrive_is_exact(app, analytics, database_url, aws_endpoint):
    minute = keys.minute_of(datetime.now(UTC))
    pipe = analytics.pipeline()
    for restaurant_id in RESTAURANTS:
        pipe.hincrby(
            keys.BUFFER, keys.field("view", f"restaurant:{restaurant_id}", minute), VIEWS_EACH
        )
    pipe.execute()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": TEST_REDIS_URL,
           "CELERY_BROKER_URL": TEST_REDIS_URL, "AWS_ENDPOINT_URL_DYNAMODB": aws_endpoint,
           "AWS_ENDPOINT_URL_S3": aws_endpoint, "DYNAMODB_TABLE_PREFIX": DYNAMODB_PREFIX}  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "--pool=solo", "--loglevel=WARNING"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        app.extensions["celery"].send_task("worker.tasks.flush_events")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(written_totals()) < 20:
            assert worker.poll() is None, "the worker exited on its own"
            time.sleep(0.3)
        assert written_totals(), "the worker never started writing"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    partial = written_totals()
    assert 0 < len(partial) < len(RESTAURANTS), "the kill should land mid-flush"
    assert leftover_batches(analytics), "the batch stays in Redis after the worker died"
    analytics.delete(keys.LOCK)  # what the lock's expiry would do a minute later
    report = flush(analytics)
    assert report.skipped >= len(partial)
    totals = written_totals()
    assert len(totals) == len(RESTAURANTS)
    assert set(totals.values()) == {VIEWS_EACH}
