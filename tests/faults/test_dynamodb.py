"""DynamoDB's endpoint stopped while gunicorn and the worker run, in the middle of a flush:
signed-out pages serve, signed-in diners see the "sessions are briefly unavailable" state (and
signing in is a 503 that says so), and every buffered view reaches DynamoDB exactly once after
the endpoint returns."""

from __future__ import annotations

import time
from html import unescape

from tests.faults.conftest import LEDGER, Stack, fault, record_status
from tests.faults.services import wait_until
from tests.web import TOKEN

NOTICE = "Signed out: sessions are briefly unavailable, try again shortly"
SIGN_IN_DOWN = "Signing in is briefly unavailable. Browsing works as usual; try again in a minute."


def caught_up(stack: Stack, expected: dict[int, int]) -> int:
    totals = stack.view_totals()
    return sum(1 for r, n in expected.items() if totals.get(r) == n)


def test_dynamodb_stopped_mid_flush_pages_serve_and_views_are_flushed_exactly_once(healthy):
    stack = healthy
    diner = stack.browser()
    stack.log_in(diner)
    expected = stack.view_totals()
    old = dict(expected)
    stack.view_all(stack.restaurants[:160], expected)  # ~320 DynamoDB writes: seconds on moto
    stack.wait_for_batches()

    stack.send("worker.tasks.flush_events")
    wait_until(lambda: caught_up(stack, expected) - caught_up(stack, old) >= 20 or None, 60,
               "the flush under way", every=0.1)  # fmt: skip
    fault("dynamodb endpoint stopped mid-flush")
    stack.moto.stop_endpoint()
    try:
        interrupted = dict(expected)
        flushed = caught_up(stack, interrupted)
        assert flushed < len(expected), "the flush finished before the endpoint stopped"
        # Signed-out visitors: every page, as usual.
        stack.browse(stack.browser(), expected)
        # More views while it is down: buffered in Redis.
        stack.view_all(stack.restaurants[:40], expected)
        # Signed in: the page serves, signed out, and says why.
        started = time.monotonic()
        page = diner.get(f"{stack.web.url}/dishes", timeout=30)
        signed_in_seconds = time.monotonic() - started
        record_status(page.status_code)
        assert page.status_code == 200
        assert NOTICE in unescape(page.text)
        assert "Log out" not in page.text
        LEDGER["dynamodb outage: signed-in page ms"] = round(signed_in_seconds * 1000)
        assert signed_in_seconds < 10, f"a signed-in page took {signed_in_seconds:.1f} s"
        # Signing in: a 503 that says so, nothing half-done.
        newcomer = stack.browser()
        form = newcomer.get(f"{stack.web.url}/auth/login", timeout=30)
        record_status(form.status_code)
        assert form.status_code == 200
        token = TOKEN.search(form.text)
        attempt = newcomer.post(
            f"{stack.web.url}/auth/login", allow_redirects=False, timeout=30,
            data={"csrf_token": token.group(1) or token.group(2), "identifier": "demo",
                  "password": "bellyfed-demo-password"},
        )  # fmt: skip
        record_status(attempt.status_code, outage_page=True)
        assert attempt.status_code == 503
        assert SIGN_IN_DOWN in unescape(attempt.text)
        assert attempt.headers["Retry-After"] == "60"
        # The worker's flushes fail meanwhile (and are retried); nothing reaches DynamoDB.
        stack.wait_for_batches()
        stack.send("worker.tasks.flush_events")
        time.sleep(2)
        assert caught_up(stack, interrupted) == flushed
    finally:
        stack.moto.start_endpoint()

    # The diner's session outlived the outage.
    page = diner.get(f"{stack.web.url}/dishes", timeout=30)
    assert "Log out" in page.text
    assert NOTICE not in unescape(page.text)
    # Every view, the interrupted batch's and those buffered since, exactly once.
    stack.flush_until(expected, 90)
    in_postgres = stack.view_counts_in_postgres()
    assert {r: in_postgres.get(r) for r in expected} == expected
