"""PostgreSQL restarted (pg_ctl stop -m fast, then start) under a running gunicorn and worker:
requests meanwhile get a clear 503 page, never a stack trace; afterwards every request succeeds
at once, on the same processes (the pools recover by themselves: pool_pre_ping)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.faults.conftest import LEDGER, Stack, fault, record_status

PAGE_DOWN = "database is briefly unavailable"


def uncached(n: int) -> list[str]:
    """Pages no cache can answer: a search nobody made before, page and API."""
    words = [uuid.uuid4().hex[:8] for _ in range(n)]
    return [f"/search?q=laksa+{w}" for w in words[: n // 2]] + [
        f"/api/v1/restaurants?q=satay+{w}" for w in words[n // 2 :]
    ]


def test_postgresql_restart_gives_503_pages_then_recovers_without_restarting_the_app(healthy):
    stack = healthy
    diner = stack.browser()
    stack.log_in(diner)
    expected = stack.view_totals()
    # Warm every worker's pool: each gunicorn process holds connections that the restart kills.
    sessions = [stack.browser() for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda i: stack.browse(sessions[i], expected), range(6)))
    web_processes = (stack.web.pid, sorted(stack.web.workers()))
    worker_processes = (stack.worker.pid, sorted(stack.worker.pool()))

    fault("postgresql stopped (pg_ctl stop -m fast)")
    stack.pg.stop("fast")
    try:
        outage_503 = 0
        for path in [*uncached(12), "/dishes", "/me/rankings", "/account"]:
            client = diner if path.startswith(("/me", "/account", "/dishes")) else sessions[0]
            response = client.get(f"{stack.web.url}{path}", timeout=30)
            record_status(response.status_code, outage_page=True)
            assert response.status_code == 503, (path, response.status_code, response.text[:300])
            assert "Traceback" not in response.text, path
            assert "psycopg" not in response.text, path
            if path.startswith("/api/"):
                assert response.headers["Content-Type"] == "application/problem+json"
                assert PAGE_DOWN in response.json()["detail"]
            else:
                assert PAGE_DOWN in response.text, path
            outage_503 += 1
        # A signed-out visitor's restaurant page may still come from the page cache (200), or
        # be a 503 that says so; either way, never a 500. Its view counts when it is a 200.
        for restaurant_id, slug in stack.restaurants[:60]:
            response = sessions[1].get(f"{stack.web.url}/restaurants/{slug}", timeout=30)
            record_status(response.status_code, outage_page=True)
            assert response.status_code in (200, 503), response.status_code
            if response.status_code == 200:
                expected[restaurant_id] = expected.get(restaurant_id, 0) + 1
                LEDGER["views sent"] += 1
            else:
                assert PAGE_DOWN in response.text
        ready = sessions[0].get(f"{stack.web.url}/readyz", timeout=30)
        record_status(ready.status_code, outage_page=True)
        assert ready.status_code == 503
    finally:
        stack.pg.start()
    assert outage_503 >= 15

    # Straight away: every request succeeds, on the same processes, the first ones included.
    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda p: _get(stack, sessions[0], p), uncached(30)))
    assert statuses == [200] * 30
    page = diner.get(f"{stack.web.url}/me/rankings", timeout=30)
    record_status(page.status_code)
    assert page.status_code == 200
    assert "Log out" in page.text
    assert (stack.web.pid, sorted(stack.web.workers())) == web_processes
    # The worker's pool too: the views served meanwhile reach DynamoDB and PostgreSQL exactly.
    stack.wait_for_batches()
    stack.flush_until(expected)
    in_postgres = stack.view_counts_in_postgres()
    assert {r: in_postgres.get(r) for r in expected} == expected
    assert (stack.worker.pid, sorted(stack.worker.pool())) == worker_processes


def _get(stack: Stack, session, path: str) -> int:
    response = session.get(f"{stack.web.url}{path}", timeout=30)
    record_status(response.status_code)
    return response.status_code
