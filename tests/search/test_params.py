"""Search parameters: every bad value is refused with a message that says how to fix it."""

from datetime import UTC, datetime

import pytest
from werkzeug.datastructures import MultiDict

from bellyfed.search.params import BadSearch, decode_cursor, encode_cursor, parse


def p(**kwargs):
    return parse(MultiDict(kwargs))


def test_defaults_and_normalization():
    params = p(q="  nasi   lemak  ")
    assert params.q == "nasi lemak"
    assert params.sort == "best"
    assert params.near is None
    assert p(near="3.1,101.6").sort == "nearest"


def test_lists_and_flags():
    params = parse(
        MultiDict([("price", "2"), ("price", "1"), ("diet", "halal"), ("open_now", "1")])
    )
    assert params.prices == (1, 2)
    assert params.diets == ("halal",)
    assert params.open_now


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"q": "x" * 101}, "at most 100"),
        ({"price": "5"}, "Price levels go from 1"),
        ({"price": "cheap"}, "Price levels go from 1"),
        ({"diet": "keto"}, "Unknown dietary filter"),
        ({"near": "abc"}, "near=3.1478,101.6953"),
        ({"near": "3.1"}, "near=3.1478,101.6953"),
        ({"near": "91,0"}, "Latitude goes from -90"),
        ({"radius_km": "3"}, "needs a location"),
        ({"near": "3.1,101.6", "radius_km": "far"}, "number of kilometres"),
        ({"near": "3.1,101.6", "radius_km": "500"}, "from 0.1 to 50"),
        ({"sort": "cheapest"}, "Sort by one of"),
        ({"sort": "nearest"}, "needs a location"),
        ({"cursor": "!!!"}, "page link is broken"),
        (
            {"cursor": encode_cursor("newest", datetime.now(UTC), 3)},
            "page link is broken",
        ),  # other sort
    ],
)
def test_bad_values_are_refused_clearly(args, message):
    with pytest.raises(BadSearch, match=message):
        p(**args)


def test_cursors_round_trip():
    assert decode_cursor(encode_cursor("best", 42, 7), "best") == (42, 7)
    moment = datetime(2026, 11, 1, 12, tzinfo=UTC)
    assert decode_cursor(encode_cursor("newest", moment, 9), "newest") == (moment, 9)


def test_query_args_reproduce_the_search():
    params = parse(
        MultiDict([("q", "laksa"), ("city", "penang"), ("price", "1"), ("open_now", "1")])
    )
    assert parse(MultiDict(params.query_args())) == params


@pytest.mark.parametrize(
    "cursor",
    [
        encode_cursor("best", 1, 10**30),
        encode_cursor("best", 10**30, 5),
        encode_cursor("best", 1, -3),
    ],
)
def test_cursors_out_of_range_are_refused(cursor):
    with pytest.raises(BadSearch, match="page link is broken"):
        p(cursor=cursor)


def test_unicode_digits_are_not_price_levels():
    with pytest.raises(BadSearch, match="Price levels"):
        p(price="²")
