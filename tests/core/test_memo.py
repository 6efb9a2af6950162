"""Whole-table counts kept a minute per process: served without a query, usable after commits."""

from __future__ import annotations

import pytest

from bellyfed.core import memo
from bellyfed.extensions import db
from bellyfed.restaurants.queries import cities_with_counts
from tests.factories import CityFactory, RestaurantFactory
from tests.web import count_statements


@pytest.fixture
def kept(app, monkeypatch):
    monkeypatch.setitem(app.config, "AGGREGATE_CACHE_SECONDS", 60)
    app.extensions.pop("aggregates", None)
    yield
    app.extensions.pop("aggregates", None)


def test_counts_are_kept_until_they_expire(app, db_session, kept, monkeypatch):
    city = CityFactory(name="Ipoh")
    RestaurantFactory(city=city)
    with app.test_request_context():
        assert {c.name: n for c, n in cities_with_counts()}["Ipoh"] == 1
        RestaurantFactory(city=city)
        db_session.commit()  # would expire the rows, were they still in the session
        with count_statements() as statements:
            rows = cities_with_counts()
        assert statements == []
        assert {c.name: n for c, n in rows}["Ipoh"] == 1  # a minute old at most
        later = memo.time.monotonic() + 61
        monkeypatch.setattr(memo.time, "monotonic", lambda: later)
        assert {c.name: n for c, n in cities_with_counts()}["Ipoh"] == 2


def test_the_home_page_reads_the_kept_counts(client, db_session, kept):
    RestaurantFactory(city=CityFactory(name="Ipoh"))
    assert "Ipoh" in client.get("/").get_data(as_text=True)
    with count_statements() as statements:
        assert "Ipoh" in client.get("/").get_data(as_text=True)
    assert not [s for s in statements if "GROUP BY cities.id" in s]


def test_off_means_every_call_reads(app, db_session):
    city = CityFactory(name="Ipoh")
    with app.test_request_context():
        cities_with_counts()
        RestaurantFactory(city=city)
        db.session.flush()
        assert {c.name: n for c, n in cities_with_counts()}["Ipoh"] == 1
