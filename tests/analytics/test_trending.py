"""Trending: recent views weigh more (exponential decay), a top-N per city, scores in PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bellyfed.analytics import keys, trending
from bellyfed.dynamo import table
from bellyfed.restaurants.models import Restaurant
from tests.factories import CityFactory, RestaurantFactory
from tests.web import text


def hour(ago: int) -> str:
    return f"{keys.TOP}views:{(datetime.now(UTC) - timedelta(hours=ago)):%Y-%m-%dT%H}"


def test_recent_views_outweigh_older_ones(analytics):
    analytics.zadd(hour(0), {"1": 10})
    analytics.zadd(hour(12), {"2": 30})  # two half-lives ago: 30 / 4 = 7.5
    scores = trending.scores(analytics, half_life_hours=6)
    assert scores[1] == pytest.approx(10)
    assert scores[2] == pytest.approx(7.5)


def test_top_n_per_city_and_scores_in_postgres(analytics, browser, db_session):
    penang, kl = CityFactory(slug="penang-t"), CityFactory(slug="kl-t")
    hot, warm, elsewhere = (RestaurantFactory(city=penang, name="Hot"), RestaurantFactory(city=penang, name="Warm"),
                            RestaurantFactory(city=kl, name="Elsewhere"))  # fmt: skip
    stale = RestaurantFactory(city=penang, name="Stale", trending_score=99.0)
    analytics.zadd(hour(0), {str(hot.id): 20, str(warm.id): 5, str(elsewhere.id): 8})
    counts = trending.recompute(analytics, half_life_hours=6)
    assert counts == {"penang-t": 2, "kl-t": 1}
    item = table("analytics").get_item(Key={"pk": "trending#penang-t", "sk": "TOP"})["Item"]
    assert [int(r["id"]) for r in item["restaurants"]] == [hot.id, warm.id]
    db_session.expire_all()
    assert db_session.get(Restaurant, hot.id).trending_score == pytest.approx(20)
    assert (
        db_session.get(Restaurant, stale.id).trending_score == 0
    )  # no recent views: no longer trending
    page = text(browser.get("/?city=penang-t"))
    assert "Trending now" in page
    assert page.index("Hot") < page.index("Warm")
