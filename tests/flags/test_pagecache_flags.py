"""A page whose flag is decided per visitor is never kept for other visitors."""

from __future__ import annotations

import pytest

from bellyfed.flags.evaluate import Flag
from tests.factories import CityFactory, DishTypeFactory
from tests.flags.conftest import BROWSER, store


@pytest.fixture
def kept(app, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 15)
    app.extensions["page_cache"].clear()
    yield app.extensions["page_cache"]
    app.extensions["page_cache"].clear()


def board(client) -> int:
    kind, city = DishTypeFactory(), CityFactory()
    return client.get(f"/dishes/{kind.slug}/{city.slug}", headers=BROWSER).status_code


def test_a_layout_rolled_out_to_some_visitors_keeps_the_board_out(client, flags_table, kept):
    store(Flag(name="leaderboard-compact-layout", enabled=True, rollout=50))
    assert board(client) == 200
    assert kept.size_bytes == 0


def test_a_layout_on_for_everyone_lets_the_board_be_kept(client, flags_table, kept):
    store(Flag(name="leaderboard-compact-layout", enabled=True, rollout=100))
    assert board(client) == 200
    assert kept.size_bytes > 0
