"""The dashboard's Experiments panel: each variant's weight and exposures, and its outages."""

from __future__ import annotations

import re
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from bellyfed import flags
from bellyfed.analytics import keys
from bellyfed.analytics.events import visitor_id
from bellyfed.analytics.flush import flush
from bellyfed.dynamo import table
from bellyfed.dynamo.tables import create_tables
from bellyfed.flags.evaluate import assign
from tests.factories import UserFactory
from tests.flags.conftest import dynamodb_down, experiment, store
from tests.helpers import keep_sessions_up
from tests.web import BrowserClient, log_in, text

EXPERIMENT = "home-search-placeholder"  # the one a page asks for: "/" shows its variant
AGENTS = [f"Mozilla/5.0 visitor-{n}" for n in range(8)]
ROW = re.compile(
    r"<td>(?P<variant>\w+)</td>\s*"
    r'<td class="num">(?P<weight>\d+) <span class="muted">\((?P<weight_share>[\d.]+%)\)</span></td>\s*'
    r'<td class="num">(?P<today>[\d,]+)</td>\s*<td class="num">(?P<days>[\d,]+)</td>\s*'
    r'<td class="num">(?P<share>[\d.]+%|—)</td>'
)


@pytest.fixture
def operator(browser, flags_table):
    user = UserFactory(role="admin")
    log_in(browser, user.username)
    return user


def rows(page: str) -> dict[str, dict[str, str]]:
    """The panel's variant rows by name."""
    return {m["variant"]: m.groupdict() for m in ROW.finditer(page)}


def buffer_earlier(redis_client, variant: str, when: datetime, n: int) -> None:
    """Exposures of an earlier day, waiting in the buffer as the request side leaves them."""
    entity = f"exposure:{EXPERIMENT}:{variant}"
    redis_client.hincrby(keys.BUFFER, keys.field("metric", entity, keys.minute_of(when)), n)


@contextmanager
def table_missing(app, logical: str):
    """One real table gone (the others fine), made again afterwards."""
    with app.app_context():
        table(logical).delete()
        flags.reset_cache()
    try:
        yield
    finally:
        with app.app_context():
            create_tables()
            flags.reset_cache()


def test_each_variant_shows_its_weight_and_exposures(app, browser, operator, redis_client):
    with app.app_context():
        stored = store(experiment(EXPERIMENT, dish=3, craving=1))
    expected = Counter()
    visitors = BrowserClient(app, app.response_class, use_cookies=False)
    for agent in AGENTS:  # visitors are assigned by a hash of who they are: work out whom
        who = {"headers": {"User-Agent": agent}, "environ_base": {"REMOTE_ADDR": "127.0.0.1"}}
        with app.test_request_context(**who):  # as the test client sends it
            expected[assign(stored, visitor_id())] += 1
        assert visitors.get("/", headers={"User-Agent": agent}).status_code == 200
    now = datetime.now(UTC)
    buffer_earlier(redis_client, "craving", now - timedelta(days=3), 5)  # in the last 7 days
    buffer_earlier(redis_client, "dish", now - timedelta(days=9), 40)  # too old to count
    with app.app_context():
        flush(redis_client)

    page = text(browser.get("/admin/dashboard"))

    shown = rows(page)
    assert shown["dish"]["weight"] == "3"
    assert shown["dish"]["weight_share"] == "75%"
    assert shown["craving"]["weight_share"] == "25%"
    assert shown["dish"]["today"] == str(expected["dish"])
    assert shown["dish"]["days"] == str(expected["dish"])
    assert shown["craving"]["today"] == str(expected["craving"])
    assert shown["craving"]["days"] == str(expected["craving"] + 5)
    week = len(AGENTS) + 5
    assert shown["dish"]["share"] == f"{expected['dish'] / week * 100:.1f}%"
    assert shown["craving"]["share"] == f"{(expected['craving'] + 5) / week * 100:.1f}%"
    assert f'href="/admin/experiments/{EXPERIMENT}"' in page
    assert "Running" in page
    assert "no conversion figures" in page  # no outcome is counted per variant: none invented
    poll = text(browser.get("/admin/dashboard", headers={"HX-Request": "true"}))
    assert rows(poll) == shown  # the panel refreshes with the rest


def test_no_exposures_yet_shows_zeros_not_a_share(app, browser, operator):
    with app.app_context():
        store(experiment(EXPERIMENT, dish=1, craving=1))
    shown = rows(text(browser.get("/admin/dashboard")))
    assert {v: (r["today"], r["days"], r["share"]) for v, r in shown.items()} == {
        "dish": ("0", "0", "—"),
        "craving": ("0", "0", "—"),
    }


def test_nothing_stored_points_to_the_flags_page(browser, operator):
    page = text(browser.get("/admin/dashboard"))
    assert "No experiments stored yet" in page
    assert 'href="/admin/flags">create one</a>' in page


def test_an_unreadable_flags_table_is_said_in_the_panel(app, browser, operator):
    with app.app_context():
        store(experiment(EXPERIMENT))
    with table_missing(app, "flags"):
        response = browser.get("/admin/dashboard")
    page = unescape(text(response))
    assert response.status_code == 200
    assert "The flags table can't be read right now" in page
    assert "Contact clicks today" in page  # the rest of the dashboard is unaffected
    assert "DynamoDB is unreachable" not in page


def test_unreadable_counters_are_said_in_the_panel(app, browser, operator):
    with app.app_context():
        store(experiment(EXPERIMENT))
        flags.cache().fresh()  # the app has read its flags before the counters went
    with table_missing(app, "analytics"):
        response = browser.get("/admin/dashboard")
    page = unescape(text(response))
    assert response.status_code == 200
    assert "Exposure counters can't be read right now." in page
    assert "DynamoDB is unreachable" in page  # the series share the analytics table


def test_dynamodb_down_still_renders_the_panel(app, browser, operator, monkeypatch):
    keep_sessions_up(app, monkeypatch)  # else the operator is signed out: tests/accounts covers it
    with dynamodb_down(app):
        response = browser.get("/admin/dashboard")
    page = unescape(text(response))
    assert response.status_code == 200
    assert "The flags table can't be read right now" in page
