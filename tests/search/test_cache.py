"""The search cache: a hit equals a fresh search, every kind of change makes old pages
unreachable, and cache trouble (DynamoDB or Redis down, expired items) only means searching."""

from datetime import time

import pytest
import redis
from werkzeug.datastructures import MultiDict

from bellyfed.analytics import trending
from bellyfed.dynamo import search_cache
from bellyfed.rankings.services import place
from bellyfed.restaurants.hours import local_now
from bellyfed.restaurants.stats import refresh_restaurant_stats
from bellyfed.search import queries
from bellyfed.search.params import parse
from bellyfed.search.queries import cached_search, search
from bellyfed.search.refresh import refresh_popular
from bellyfed.search.versions import read_version
from tests.factories import (
    CityFactory,
    CuisineFactory,
    DishFactory,
    DishTypeFactory,
    OperatingHoursFactory,
    RestaurantFactory,
    ReviewFactory,
    UserFactory,
)
from tests.web import text


def params(**args):
    return parse(MultiDict(args))


def shape(page):
    return [r.id for r in page.restaurants], page.distances, page.next_cursor


def cached_twice(p, page_size=queries.PAGE_SIZE):
    """The miss (which stores), then the hit, which must not run the search."""
    first = cached_search(p, page_size)
    real, queries.search = queries.search, None  # a hit that searched would fail loudly
    try:
        second = cached_search(p, page_size)
    finally:
        queries.search = real
    return first, second


@pytest.fixture(autouse=True)
def cache_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "SEARCH_CACHE_SECONDS", 600)


@pytest.fixture
def town(db_session, redis_client):
    kl = CityFactory(slug="kuala-lumpur")
    malay = CuisineFactory(slug="malay", name="Malay")
    nasi = DishTypeFactory(name="Nasi Lemak")
    places = []
    for n in range(7):
        r = RestaurantFactory(name=f"Nasi Lemak Stall {n}", city=kl, price_level=1 + n % 2,
                              cuisines=[malay], latitude=3.14 + n / 1000, longitude=101.7)  # fmt: skip
        DishFactory(restaurant=r, name=f"Nasi Lemak Biasa {n}", dish_type=nasi)
        places.append(r)
    db_session.commit()
    return places


@pytest.mark.parametrize(
    "args",
    [
        {"q": "nasi lemk"},
        {"q": "stall", "city": "kuala-lumpur", "price": "1", "cuisine": "malay"},
        {"near": "3.14,101.7", "radius_km": "5"},
        {"q": "nasi", "sort": "newest"},
        {"sort": "popular", "q": "nasi"},
    ],
)
def test_a_hit_equals_a_fresh_search_on_every_page(town, args):
    cursor = None
    for _ in range(4):
        p = params(**args, **({"cursor": cursor} if cursor else {}))
        miss, hit = cached_twice(p, page_size=3)
        assert shape(hit) == shape(miss) == shape(search(p, 3))
        assert [r.city.slug for r in hit.restaurants] == [r.city.slug for r in miss.restaurants]
        cursor = hit.next_cursor
        if cursor is None:
            break
    if "near" in args:
        assert hit.distances
        assert all(isinstance(d, float) for d in hit.distances.values())


def assert_fresh_after(change, p, town):
    before, _ = cached_twice(p)
    change()
    after = cached_search(p)
    assert shape(after) == shape(search(p))
    assert shape(after) != shape(before)


def test_ranking_a_dish_makes_cached_pages_stale(db_session, town):
    user, last = UserFactory(), town[0]  # id order puts it last among equals

    def rank():
        place(user.id, last.dishes[0], 1)
        db_session.commit()

    assert_fresh_after(rank, params(q="nasi lemak", sort="best"), town)


def test_a_review_makes_cached_pages_stale(db_session, town):
    def review():
        ReviewFactory(restaurant_id=town[0].id)
        refresh_restaurant_stats([town[0].id])
        db_session.commit()

    assert_fresh_after(review, params(q="nasi lemak", sort="popular"), town)


def test_changed_hours_make_cached_pages_stale(db_session, town):
    now = local_now("Asia/Kuala_Lumpur")
    hours = OperatingHoursFactory(restaurant=town[0], weekday=(now.weekday() + 2) % 7,
                                  opens_at=time(0, 0), closes_at=time(0, 0))  # fmt: skip
    db_session.commit()

    def open_today():
        hours.weekday = now.weekday()  # 24 hours, today
        db_session.commit()

    assert_fresh_after(open_today, params(q="nasi lemak", open_now="1"), town)


def test_a_trending_recompute_makes_cached_pages_stale(db_session, redis_client, town):
    def views():
        hour = f"{local_now('UTC'):%Y-%m-%dT%H}"
        redis_client.zadd(f"bellyfed:top:views:{hour}", {str(town[0].id): 50})
        trending.recompute(redis_client)
        db_session.commit()

    assert_fresh_after(views, params(q="nasi lemak", sort="trending"), town)


def test_an_expired_item_is_not_served(app, town):
    p = params(q="nasi")
    now = local_now("UTC").timestamp()
    version = read_version(redis.Redis.from_url(app.config["REDIS_URL"]))
    key = search_cache.search_key(p, queries.PAGE_SIZE, now)
    wrong = search_cache.CachedPage([town[0].id], [], None, int(now) - 1)
    search_cache.put(key, version, wrong)
    assert shape(cached_search(p)) == shape(search(p))


def test_dynamodb_down_still_serves_the_search(app, client, town):
    endpoint = app.config["AWS_ENDPOINT_URL_DYNAMODB"]
    saved = app.extensions.pop("dynamodb", None)
    app.config["AWS_ENDPOINT_URL_DYNAMODB"] = "http://127.0.0.1:1"
    try:
        response = client.get("/search?q=nasi+lemak")
    finally:
        app.config["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
        app.extensions.pop("dynamodb", None)
        if saved is not None:
            app.extensions["dynamodb"] = saved
    assert response.status_code == 200
    assert all(r.name in text(response) for r in town)


def test_redis_down_searches_uncached(app, town, monkeypatch):
    monkeypatch.setitem(app.extensions, "redis", redis.Redis(port=1, socket_connect_timeout=0.2))
    monkeypatch.setattr(search_cache, "get", lambda *a: pytest.fail("cache used without Redis"))
    p = params(q="nasi")
    assert shape(cached_search(p)) == shape(search(p))


def test_open_now_keys_change_with_the_quarter_hour():
    slot_start = 1_800_000_000 - 1_800_000_000 % 900
    open_now, anytime = params(open_now="1"), params()
    same = search_cache.search_key(open_now, 20, slot_start + 1)
    assert search_cache.search_key(open_now, 20, slot_start + 899) == same
    assert search_cache.search_key(open_now, 20, slot_start + 900) != same
    assert search_cache.search_key(anytime, 20, slot_start) == search_cache.search_key(
        anytime, 20, slot_start + 900
    )
    assert search_cache.ttl_seconds(open_now, 600, slot_start + 800) == 100
    assert search_cache.ttl_seconds(anytime, 600, slot_start + 800) == 600


def test_near_keys_follow_the_point_and_radius():
    base = search_cache.search_key(params(near="3.14,101.7"), 20, 0)
    assert search_cache.search_key(params(near="3.140001,101.7"), 20, 0) == base  # rounded
    assert search_cache.search_key(params(near="3.1401,101.7"), 20, 0) != base
    assert search_cache.search_key(params(near="3.14,101.7", radius_km="2"), 20, 0) != base


def test_the_refresh_caches_popular_searches_before_they_are_asked(app, client, redis_client, town):
    assert client.get("/search?q=nasi+lemak&price=1").status_code == 200
    assert client.get("/search?q=nasi+lemak&price=1").status_code == 200
    redis_client.incr("bellyfed:search:version")  # a change: the cached page is unreachable
    p = params(q="nasi lemak", price="1")
    now = local_now("UTC").timestamp()
    key = search_cache.search_key(p, queries.PAGE_SIZE, now)
    assert search_cache.get(key, read_version(redis_client), now) is None
    assert refresh_popular(redis_client) == 1
    cached = search_cache.get(key, read_version(redis_client), now)
    assert cached is not None
    assert cached.ids == [r.id for r in search(p).restaurants]
    assert refresh_popular(redis_client) == 0  # still fresh: nothing to do


def test_cheap_browse_queries_skip_the_cache(app, town, monkeypatch):
    """A filtered browse is an index range read, cheaper than the cache lookup it would cost."""
    from bellyfed.dynamo import search_cache

    monkeypatch.setattr(
        search_cache, "get", lambda *a: pytest.fail("cache read for a browse query")
    )
    page = cached_search(params(city="kuala-lumpur", sort="best"))
    assert len(page.restaurants) == 7
