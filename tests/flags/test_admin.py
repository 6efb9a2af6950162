"""/admin/flags: operators only; create, edit, toggle, refuse bad input, log every change."""

from __future__ import annotations

from html import unescape

import pytest

from bellyfed.analytics.flush import flush
from bellyfed.dynamo import flags as storage
from bellyfed.flags.evaluate import Experiment, Flag, Variant
from tests.factories import CityFactory, UserFactory
from tests.flags.conftest import BROWSER, dynamodb_down, experiment, store
from tests.helpers import keep_sessions_up
from tests.web import log_in, post, text

NEW_FLAG = {"name": "crispy-mode", "description": "Crispier", "rollout": "0", "version": "0"}


@pytest.fixture
def operator(browser, flags_table):
    user = UserFactory(role="admin", username="ops_anna")
    log_in(browser, user.username)
    return user


def stored(browser, kind=Flag, name="crispy-mode"):
    with browser.application.app_context():
        return storage.get(kind, name)


def test_only_operators_get_in(browser, flags_table):
    assert browser.get("/admin/flags").status_code == 302  # to the login page
    assert post(browser, "/admin/flags/new", NEW_FLAG).status_code == 302
    log_in(browser, UserFactory().username)
    assert browser.get("/admin/flags").status_code == 403
    assert post(browser, "/admin/flags/new", NEW_FLAG).status_code == 403
    assert "Flags</a>" not in text(browser.get("/"))
    assert stored(browser) is None


def test_the_list_shows_declared_flags_and_links_from_the_nav(browser, operator):
    page = text(browser.get("/admin/flags"))
    assert "leaderboard-compact-layout" in page
    assert "home-search-placeholder" in page
    assert "/admin/flags/new?name=leaderboard-compact-layout" in page
    assert 'href="/admin/flags">Flags</a>' in text(browser.get("/"))
    prefilled = text(browser.get("/admin/flags/new?name=leaderboard-compact-layout"))
    assert 'value="leaderboard-compact-layout"' in prefilled


def test_create_edit_and_the_change_log(browser, operator):
    CityFactory(slug="penang", name="Penang")
    created = post(browser, "/admin/flags/new", NEW_FLAG)
    assert created.status_code == 302
    assert created.headers["Location"] == "/admin/flags/crispy-mode"
    assert stored(browser).version == 1
    edited = post(browser, "/admin/flags/crispy-mode", {
        "version": "1", "enabled": "y", "rollout": "30", "users": "12, 40",
        "roles": "admin", "cities": "penang", "description": "Crispier",
    })  # fmt: skip
    assert edited.status_code == 302
    flag = stored(browser)
    assert (flag.version, flag.enabled, flag.rollout) == (2, True, 30)
    assert (flag.users, flag.roles, flag.cities) == ({12, 40}, {"admin"}, {"penang"})
    page = text(browser.get("/admin/flags/crispy-mode"))
    assert "Change log" in page
    assert page.count("ops_anna") >= 3  # the header and two log entries
    assert "enabled off → on; rollout 0% → 30%; users none → 12, 40" in page
    assert "created: enabled off; rollout 0%" in page
    listed = text(browser.get("/admin/flags"))
    assert "30%" in listed
    assert "users 12, 40" in listed


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rollout": "150"}, "Rollout is a percentage from 0 to 100."),
        ({"rollout": "-1"}, "Rollout is a percentage from 0 to 100."),
        ({"name": ""}, "Name the flag."),
        ({"name": "crispy mode"}, "Names are lowercase letters"),
        ({"name": "Crispy"}, "Names are lowercase letters"),
        ({"roles": "superuser"}, "Pick roles from the list."),
        ({"cities": "atlantis"}, "Pick cities from the list."),
        ({"users": "12, bob"}, "User ids are whole numbers"),
    ],
)
def test_bad_flag_input_is_refused_and_nothing_written(browser, operator, fields, message):
    response = post(browser, "/admin/flags/new", {**NEW_FLAG, **fields})
    assert response.status_code == 400
    assert message in text(response)
    with browser.application.app_context():
        assert storage.list_all() == ({}, {})


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ("a 50\nb -10", "none negative, not all zero"),
        ("a 0\nb 0", "none negative, not all zero"),
        ("a 100", "at least two variants"),
        ("a fifty\nb 50", "a name and a whole number"),
        ("a 50\na 50", "each name once"),
        ("", "List at least two variants."),
    ],
)
def test_bad_experiment_input_is_refused_and_nothing_written(browser, operator, variants, message):
    data = {"name": "test-exp", "variants": variants, "enabled": "y", "version": "0"}
    response = post(browser, "/admin/experiments/new", data)
    assert response.status_code == 400
    assert message in text(response)
    with browser.application.app_context():
        assert storage.list_all() == ({}, {})


def test_an_experiment_is_created_with_its_weights(browser, operator):
    data = {"name": "test-exp", "variants": "a 50\r\nb 30\r\nc 20", "enabled": "y", "version": "0"}
    assert post(browser, "/admin/experiments/new", data).status_code == 302
    exp = stored(browser, Experiment, "test-exp")
    assert exp.variants == (Variant("a", 50), Variant("b", 30), Variant("c", 20))
    assert exp.enabled


def test_a_concurrent_edit_is_a_conflict_not_an_overwrite(browser, operator):
    post(browser, "/admin/flags/new", NEW_FLAG)
    theirs = post(browser, "/admin/flags/crispy-mode", {"version": "1", "rollout": "10"})
    assert theirs.status_code == 302
    mine = post(browser, "/admin/flags/crispy-mode", {"version": "1", "rollout": "90"})
    assert mine.status_code == 409
    assert "(now version 2) after you opened it" in text(mine)
    assert "Nothing was saved" in text(mine)
    assert 'name="version" type="hidden" value="2"' in text(mine)
    assert stored(browser).rollout == 10
    again = post(browser, "/admin/flags/crispy-mode", {"version": "2", "rollout": "90"})
    assert again.status_code == 302  # knowingly replacing their change works
    assert stored(browser).rollout == 90


def test_creating_an_existing_name_is_refused(browser, operator):
    post(browser, "/admin/flags/new", NEW_FLAG)
    again = post(browser, "/admin/flags/new", {**NEW_FLAG, "rollout": "50"})
    assert again.status_code == 409
    assert "already exists" in text(again)
    assert stored(browser).rollout == 0


def test_toggle_in_place_with_htmx(browser, operator):
    post(browser, "/admin/flags/new", NEW_FLAG)
    response = post(browser, "/admin/flags/crispy-mode/toggle", {"version": "1"}, htmx=True)
    assert response.status_code == 200
    row = text(response)
    assert row.lstrip().startswith('<tr id="flag-crispy-mode">')
    assert "Switch off" in row
    assert 'name="version" value="2"' in row
    assert stored(browser).enabled
    stale = post(browser, "/admin/flags/crispy-mode/toggle", {"version": "1"}, htmx=True)
    assert "after you opened it" in text(stale)
    assert stored(browser).enabled  # not switched back by the stale click


def test_toggle_without_javascript_redirects_with_a_message(browser, operator):
    post(browser, "/admin/flags/new", NEW_FLAG)
    response = post(browser, "/admin/flags/crispy-mode/toggle", {"version": "1"})
    assert response.status_code == 302
    assert "crispy-mode is now on" in text(browser.get(response.headers["Location"]))
    log = text(browser.get("/admin/flags/crispy-mode"))
    assert "enabled off → on" in log
    assert post(browser, "/admin/flags/nothing/toggle", {"version": "1"}).status_code == 404


def test_experiments_show_exposures_per_variant(browser, operator, redis_client):
    with browser.application.app_context():
        store(experiment("home-search-placeholder", dish=1, craving=0))
    for _ in range(2):
        browser.get("/", headers=BROWSER)
    with browser.application.app_context():
        flush(redis_client)
    page = text(browser.get("/admin/flags"))
    assert (
        'dish <span class="muted">(weight 1)</span>:\n        <strong>2</strong> exposures' in page
    )
    assert "<strong>0</strong> exposures" in page  # craving
    stopped = post(browser, "/admin/experiments/home-search-placeholder/toggle",
                   {"version": "1"}, htmx=True)  # fmt: skip
    assert "Stopped" in text(stopped)
    assert "<strong>2</strong> exposures" in text(stopped)


def test_dynamodb_down_is_a_clear_503(browser, operator, app, monkeypatch):
    keep_sessions_up(app, monkeypatch)  # else the operator is signed out: tests/accounts covers it
    with dynamodb_down(app):
        response = browser.get("/admin/flags")
    assert response.status_code == 503
    assert "Flags can't be read or saved right now" in unescape(text(response))
