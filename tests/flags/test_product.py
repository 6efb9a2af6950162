"""The real flag and experiment change the pages, and the pages survive DynamoDB being down."""

from __future__ import annotations

import pytest

from bellyfed.flags.evaluate import Flag
from tests.factories import CityFactory, DishTypeFactory, UserFactory
from tests.flags.conftest import BROWSER, dynamodb_down, experiment, on_for_everyone, store
from tests.web import log_in, post, text

CRAVING = "What are you craving?"
DISHES = "Nasi lemak, laksa, char kway teow…"


@pytest.fixture
def penang(db_session):
    return CityFactory(slug="penang", name="Penang")


@pytest.fixture
def board_url(penang):
    DishTypeFactory(slug="laksa", name="Laksa")
    return "/dishes/laksa/penang"


def test_the_compact_board_follows_its_flag(browser, flags_table, board_url):
    assert "board-compact" not in text(browser.get(board_url))
    with browser.application.app_context():
        store(on_for_everyone("leaderboard-compact-layout"))
    page = text(browser.get(board_url))
    assert 'class="board board-compact"' in page
    fragment = text(browser.get(board_url, headers={"HX-Request": "true"}))
    assert 'class="board board-compact"' in fragment  # paging keeps the layout


def test_the_compact_board_can_target_operators_only(browser, flags_table, board_url):
    with browser.application.app_context():
        store(Flag(name="leaderboard-compact-layout", enabled=True, roles=frozenset({"admin"})))
    assert "board-compact" not in text(browser.get(board_url))
    log_in(browser, UserFactory(role="admin").username)
    assert "board-compact" in text(browser.get(board_url))


def test_the_compact_board_can_target_a_home_city(browser, flags_table, penang, board_url):
    with browser.application.app_context():
        store(Flag(name="leaderboard-compact-layout", enabled=True, cities=frozenset({"penang"})))
    ipoh = CityFactory(slug="ipoh", name="Ipoh")
    log_in(browser, UserFactory(home_city_id=ipoh.id).username)
    assert "board-compact" not in text(browser.get(board_url))
    assert post(browser, "/auth/logout").status_code == 302
    log_in(browser, UserFactory(home_city_id=penang.id).username)
    assert "board-compact" in text(browser.get(board_url))


def test_the_home_search_hint_follows_the_experiment(browser, flags_table):
    assert DISHES in text(browser.get("/", headers=BROWSER))
    with browser.application.app_context():
        store(experiment("home-search-placeholder", dish=0, craving=1))
    page = text(browser.get("/", headers=BROWSER))
    assert CRAVING in page
    assert DISHES not in page


def test_pages_use_the_declared_defaults_when_dynamodb_is_down(
    browser, flags_table, app, board_url
):
    with app.app_context():
        store(on_for_everyone("leaderboard-compact-layout"))
        store(experiment("home-search-placeholder", dish=0, craving=1))
    with dynamodb_down(app):
        home = browser.get("/", headers=BROWSER)
        board = browser.get(board_url)
    assert home.status_code == 200
    assert DISHES in text(home)
    assert board.status_code == 200
    assert "board-compact" not in text(board)
