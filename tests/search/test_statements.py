"""Search statements kept per shape: the same pages as a statement built afresh, for any values."""

from __future__ import annotations

import pytest
from sqlalchemy import text as text_sql
from werkzeug.datastructures import MultiDict

from bellyfed.extensions import db
from bellyfed.search import statements
from bellyfed.search.cards import card_from_row
from bellyfed.search.params import parse
from bellyfed.search.queries import bind_values, cards_query, search, shape
from bellyfed.search.text import matching_terms
from tests.factories import (
    CityFactory,
    CuisineFactory,
    DishFactory,
    DishTypeFactory,
    RestaurantFactory,
)
from tests.web import count_statements, text

# Pairs of searches of one shape (the same filters, sort and paging, other values).
SAME_SHAPES = [
    ({"q": "laksa", "city": "ipoh"}, {"q": "malay", "city": "penang"}),  # dictionary terms too
    ({"q": "mee", "price": "1"}, {"q": "roti", "price": ["2", "3"]}),
    ({"q": "la"}, {"q": "ro"}),  # short: a prefix of the name
    ({"cuisine": "malay", "diet": "halal"}, {"cuisine": ["mamak", "malay"], "diet": "vegan"}),
    (
        {"near": "4.59,101.09", "radius_km": "3"},
        {"near": "5.41,100.33", "radius_km": "10", "sort": "nearest"},
    ),
    ({"city": "ipoh", "sort": "popular"}, {"city": "penang", "sort": "popular"}),
]


@pytest.fixture
def town(db_session):
    ipoh, penang = CityFactory(slug="ipoh"), CityFactory(slug="penang")
    malay = CuisineFactory(slug="malay", name="Malay")
    mamak = CuisineFactory(slug="mamak", name="Mamak")
    laksa = DishTypeFactory(name="Laksa")
    for n in range(30):
        r = RestaurantFactory(
            city=ipoh if n % 2 else penang,
            name=("Nasi Lemak", "Laksa", "Roti", "Mee")[n % 4] + f" Stall {n}",
            price_level=n % 4 + 1,
            latitude=4.59 + n / 500 if n % 2 else 5.41 + n / 500,
            longitude=101.09 if n % 2 else 100.33,
            cuisines=[malay] if n % 3 else [malay, mamak],
        )
        DishFactory(restaurant=r, dish_type=laksa if n % 5 == 0 else None,
                    dietary_tags=["halal"] if n % 2 else ["vegan"])  # fmt: skip
    db_session.flush()


def fresh(params, page_size=20):
    """The page as a statement built and compiled for this search alone would give it."""
    term_ids = matching_terms(params.q) if params.q else []
    rows = db.session.execute(cards_query(params, page_size, term_ids)).all()
    return [card_from_row(row) for row in rows[:page_size]]


@pytest.mark.parametrize(("first", "second"), SAME_SHAPES)
def test_a_kept_statement_gives_the_pages_a_fresh_one_gives(town, first, second):
    statements.clear()
    for args in (first, second, first):  # the second and third run the kept statement
        params = parse(MultiDict(args))
        page = search(params, page_size=5)
        assert page.restaurants == fresh(params, page_size=5), args
        if page.next_cursor:  # and the next page, from a cursor (a shape of its own)
            after = parse(MultiDict({**args, "cursor": page.next_cursor}))
            assert search(after, page_size=5).restaurants == fresh(after, page_size=5), args


@pytest.mark.parametrize(("first", "second"), SAME_SHAPES)
def test_one_shape_is_one_sql_text_whatever_the_values(town, first, second):
    compiled = []
    for args in (first, second):
        params = parse(MultiDict(args))
        term_ids = matching_terms(params.q) if params.q else []
        values = bind_values(params, term_ids)
        statement = cards_query(params, 20, term_ids).compile(dialect=db.engine.dialect)
        compiled.append((shape(params, 20, values), statement.string, statement.params, values))
    (shape_1, sql_1, params_1, values_1), (shape_2, sql_2, params_2, values_2) = compiled
    assert shape_1 == shape_2
    assert sql_1 == sql_2
    # Every value that differs is a named parameter: the rest are constants of the shape.
    assert {k: v for k, v in params_1.items() if k not in values_1} == {
        k: v for k, v in params_2.items() if k not in values_2
    }
    assert params_2 == {**params_1, **values_2}


def test_shapes_differ_where_the_sql_does(town):
    def key(**args):
        params = parse(MultiDict(args))
        term_ids = matching_terms(params.q) if params.q else []
        return shape(params, 20, bind_values(params, term_ids))

    keys = {
        key(q="laksa"),
        key(q="la"),
        key(q="laksa", open_now="1"),
        key(q="laksa", sort="newest"),
        key(q="laksa", price="1"),
        key(city="ipoh"),
        key(near="4.59,101.09"),
        key(near="4.59,101.09", radius_km="2"),
    }
    assert len(keys) == 8


def test_an_expanding_in_is_refused_not_kept(db_session):
    from sqlalchemy import select

    from bellyfed.restaurants.models import Restaurant

    statements.clear()
    with pytest.raises(ValueError, match="depends on its values"):
        statements.execute(
            ("test",), lambda: select(Restaurant.id).where(Restaurant.id.in_([1])), {}
        )


def test_a_value_left_out_of_the_named_parameters_is_caught_under_testing(db_session):
    """A literal value would be frozen into its shape for every later search: the suite's
    searches compile every statement anew and compare, so such a mistake fails loudly."""
    from sqlalchemy import bindparam, select

    from bellyfed.restaurants.models import Restaurant

    statements.clear()

    def search_for(slug: str, limit: int) -> list:
        def build():
            where = Restaurant.slug == bindparam("slug", slug)
            return select(Restaurant.id).where(where).limit(limit)  # limit: not bound, a mistake

        return statements.execute(("mistake",), build, {"slug": slug}).all()

    search_for("a", 10)
    search_for("b", 10)  # another value of a named parameter: fine
    with pytest.raises(AssertionError, match="a value is not a bound parameter"):
        search_for("c", 20)


def test_a_search_plans_without_parallel_workers(town):
    search(parse(MultiDict({"q": "laksa", "city": "ipoh"})))
    assert db.session.scalar(text_sql("SHOW max_parallel_workers_per_gather")) == "0"


def test_a_kept_statement_is_one_statement_after_the_setting(town):
    params = parse(MultiDict({"q": "laksa", "city": "ipoh"}))
    search(params)
    with count_statements() as ran:
        search(params)
    ran = [s for s in ran if "FROM search_terms" not in s]  # the dictionary (kept a minute live)
    assert [s.split()[0] for s in ran] == ["SET", "SELECT"], ran


def test_result_cards_link_to_their_restaurant_pages(browser, town):
    from flask import url_for

    page = text(browser.get("/search?q=laksa&city=ipoh"))
    slugs = [
        card.slug for card in search(parse(MultiDict({"q": "laksa", "city": "ipoh"}))).restaurants
    ]
    assert slugs
    with browser.application.test_request_context():
        for slug in slugs:
            assert f'href="{url_for("restaurants.detail", slug=slug)}"' in page
