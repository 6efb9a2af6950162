"""Redis stopped while gunicorn and the worker run: pages serve, every view is either counted in
DynamoDB or counted as lost in /metrics (exactly), and the worker picks up again when it returns."""

from __future__ import annotations

import re
import signal
import time

import requests

from tests.faults.conftest import LEDGER, Stack, fault, record_status
from tests.faults.services import wait_until

LOST = re.compile(r"^bellyfed_analytics_lost_events_total (\S+)$", re.MULTILINE)


def lost_events(stack: Stack) -> int:
    page = requests.get(f"{stack.web.url}/metrics", timeout=30)
    assert page.status_code == 200, page.text[:300]
    match = LOST.search(page.text)
    return int(float(match.group(1))) if match else 0


def test_redis_stopped_pages_serve_views_are_counted_lost_and_the_worker_reconnects(healthy):
    stack = healthy
    visitor, diner = stack.browser(), stack.browser()
    stack.log_in(diner)
    expected = stack.view_totals()
    # Before: views reach DynamoDB.
    before = stack.restaurants[:20]
    for restaurant in before:
        assert stack.view(visitor, restaurant) == 200
        expected[restaurant[0]] = expected.get(restaurant[0], 0) + 1
    stack.wait_for_batches()
    stack.flush_until(expected)
    lost_before = lost_events(stack)
    workers_before = stack.web.workers()

    fault("redis stopped")
    stack.redis.kill(signal.SIGTERM)  # --save '': everything in it is gone, as after a crash
    try:
        # Every kind of page serves, signed out and signed in, and so does the API.
        # (Their views are lost: not expected in DynamoDB.)
        stack.browse(visitor, extra=("/api/v1/restaurants?q=laksa",))
        for path in ("/", "/dishes", "/account", f"/restaurants/{stack.restaurants[0][1]}"):
            page = diner.get(f"{stack.web.url}{path}", timeout=30)
            record_status(page.status_code)
            assert page.status_code == 200, (path, page.status_code)
            assert "Log out" in page.text, path
        stack.wait_for_batches()
        lost_so_far = lost_events(stack)
        assert lost_so_far > lost_before, "the pages' events were not counted as lost"
        # Exactly: N restaurant views (one event each) during the outage are N lost events.
        during = stack.restaurants[20:50]
        for restaurant in during:
            assert stack.view(visitor, restaurant) == 200
        LEDGER["views sent"] += len(during)
        stack.wait_for_batches()
        assert lost_events(stack) - lost_so_far == len(during)
        LEDGER["views lost (metric)"] += len(during)
    finally:
        stack.redis.start()
    assert stack.web.workers() == workers_before, "a gunicorn worker died during the outage"

    # After: views count again at once; the worker reconnects by itself, and a task queued
    # after Redis returned runs.
    after = stack.restaurants[50:80]
    for restaurant in after:
        assert stack.view(visitor, restaurant) == 200
        expected[restaurant[0]] = expected.get(restaurant[0], 0) + 1
    LEDGER["views sent"] += len(before) + len(after)
    wait_until(lambda: _heartbeat_ran(stack), 60, "a heartbeat task queued after Redis returned")
    stack.flush_until(expected)
    # PostgreSQL's copy of the totals follows DynamoDB's.
    in_postgres = stack.view_counts_in_postgres()
    assert {r: in_postgres.get(r) for r in expected} == expected


def _heartbeat_ran(stack: Stack) -> bool:
    stack.send("worker.tasks.heartbeat")
    time.sleep(1)
    return stack.task_runs("worker.tasks.heartbeat") > 0
