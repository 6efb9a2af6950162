"""Pages kept for signed-out visitors: served without a query, still counted, never someone's own."""

from __future__ import annotations

import pytest

from bellyfed.analytics import keys
from bellyfed.core import pagecache
from bellyfed.core.pagecache import Entry, PageCache
from bellyfed.extensions import db
from tests.factories import TEST_PASSWORD, DishTypeFactory, RestaurantFactory, UserFactory
from tests.web import TOKEN as CSRF
from tests.web import BrowserClient, count_statements, log_in, text

BROWSER = {"User-Agent": "Mozilla/5.0 (Linux; Android 14) Chrome/130.0 Mobile"}


@pytest.fixture
def cached(app, monkeypatch):
    """The page cache on (the test app keeps it off), empty before and after."""
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 15)
    cache: PageCache = app.extensions["page_cache"]
    cache.clear()
    yield cache
    cache.clear()


def rename(restaurant, name: str) -> None:
    restaurant.name = name
    db.session.flush()


def test_a_signed_out_visitor_gets_the_kept_page_without_a_query(client, cached):
    restaurant = RestaurantFactory(name="Nasi Lemak Wanjo")
    first = client.get(f"/restaurants/{restaurant.slug}", headers=BROWSER)
    rename(restaurant, "Renamed Since")
    with count_statements() as statements:
        second = client.get(f"/restaurants/{restaurant.slug}", headers=BROWSER)
    assert second.status_code == 200
    assert text(second) == text(first)
    assert "Nasi Lemak Wanjo" in text(second)
    assert statements == []
    # The after-request hooks still dress every response.
    assert second.headers["Content-Security-Policy"]
    assert second.headers["Content-Type"].startswith("text/html")


def test_the_kept_page_expires(client, cached, monkeypatch):
    restaurant = RestaurantFactory(name="Nasi Lemak Wanjo")
    client.get(f"/restaurants/{restaurant.slug}", headers=BROWSER)
    rename(restaurant, "Renamed Since")
    later = pagecache.time.monotonic() + 16
    monkeypatch.setattr(pagecache.time, "monotonic", lambda: later)
    assert "Renamed Since" in text(client.get(f"/restaurants/{restaurant.slug}", headers=BROWSER))


def test_a_signed_in_diner_always_gets_a_fresh_page(client, cached):
    restaurant = RestaurantFactory(name="Nasi Lemak Wanjo")
    client.get(f"/restaurants/{restaurant.slug}", headers=BROWSER)  # kept for visitors
    UserFactory(username="amira")
    log_in(client, "amira")
    rename(restaurant, "Renamed Since")
    page = text(client.get(f"/restaurants/{restaurant.slug}", headers=BROWSER))
    assert "Renamed Since" in page
    assert "Log out" in page  # their own navigation, not a visitor's


def test_a_page_rendered_for_a_signed_in_diner_is_not_kept_for_visitors(app, client, cached):
    restaurant = RestaurantFactory(name="Nasi Lemak Wanjo")
    UserFactory(username="amira")
    log_in(client, "amira")
    client.get(f"/restaurants/{restaurant.slug}", headers=BROWSER)
    assert cached.size_bytes == 0
    visitor = app.test_client()
    assert "Log out" not in text(visitor.get(f"/restaurants/{restaurant.slug}", headers=BROWSER))


def test_every_view_is_still_counted(client, cached, redis_client):
    restaurant = RestaurantFactory()
    for _ in range(3):
        assert client.get(f"/restaurants/{restaurant.slug}", headers=BROWSER).status_code == 200
    counts = [
        int(v)
        for f, v in redis_client.hgetall(keys.BUFFER).items()
        if f.decode().startswith(f"view|restaurant:{restaurant.id}|")
    ]
    assert sum(counts) == 3


def test_a_revisit_with_the_etag_gets_304(client, cached):
    restaurant = RestaurantFactory()
    first = client.get(f"/restaurants/{restaurant.slug}", headers=BROWSER)
    etag = first.headers["ETag"]
    again = client.get(
        f"/restaurants/{restaurant.slug}", headers={**BROWSER, "If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.get_data() == b""


def test_fragments_and_query_strings_are_kept_apart(client, cached):
    restaurant = RestaurantFactory()
    page = client.get(f"/restaurants/{restaurant.slug}", headers=BROWSER)
    fragment = client.get(
        f"/restaurants/{restaurant.slug}",
        headers={**BROWSER, "HX-Request": "true", "HX-Target": "reviews"},
    )
    newest = client.get(f"/restaurants/{restaurant.slug}?reviews=newest", headers=BROWSER)
    assert "<html" in text(page)
    assert "<html" not in text(fragment)
    assert text(newest) != text(page)  # the sort links mark another choice
    assert "HX-Request" in fragment.headers["Vary"]


def test_errors_are_not_kept(client, cached):
    assert client.get("/restaurants/opens-soon", headers=BROWSER).status_code == 404
    RestaurantFactory(slug="opens-soon")
    assert client.get("/restaurants/opens-soon", headers=BROWSER).status_code == 200
    restaurant = RestaurantFactory()
    bad = client.get(f"/restaurants/{restaurant.slug}?page=0", headers=BROWSER)
    assert bad.status_code == 400


def test_leaderboard_pages_are_kept_too(client, cached):
    kind = DishTypeFactory(name="Char Kway Teow")
    first = client.get(f"/dishes/{kind.slug}", headers=BROWSER)
    kind.name = "Renamed Since"
    db.session.flush()
    with count_statements() as statements:
        second = client.get(f"/dishes/{kind.slug}", headers=BROWSER)
    assert text(second) == text(first)
    assert statements == []


def test_the_cache_keeps_to_its_size_least_recently_used_out_first():
    cache = PageCache(max_bytes=4000)
    entry = Entry(body=b"x" * 900, headers=(), etag="e", events=(), expires=100.0)
    for n in range(4):
        cache.put((f"/page/{n}",), entry)
    assert cache.get(("/page/0",), now=1.0) is entry  # used: now the most recent
    cache.put(("/page/4",), entry)
    assert cache.get(("/page/1",), now=1.0) is None  # the least recently used went
    assert cache.get(("/page/0",), now=1.0) is entry
    assert cache.size_bytes == 4 * (900 + len("/page/0"))  # bodies and keys
    assert cache.get(("/page/0",), now=100.0) is None  # expired
    cache.put(("/huge",), Entry(body=b"x" * 1500, headers=(), etag="e", events=(), expires=9.0))
    assert cache.get(("/huge",), now=1.0) is None  # over a quarter of the whole: not kept


def test_a_negative_setting_is_refused():
    from flask import Flask

    bad = Flask("bad")
    bad.config.update(PAGE_CACHE_SECONDS=-1, PAGE_CACHE_MAX_BYTES=1)
    with pytest.raises(ValueError, match="PAGE_CACHE_SECONDS"):
        pagecache.init_app(bad)


def test_a_visitor_search_is_kept_and_still_counted(client, cached, redis_client):
    RestaurantFactory(name="Nasi Lemak Wanjo")
    first = client.get("/search?q=nasi+lemak", headers=BROWSER)
    assert "Nasi Lemak Wanjo" in text(first)
    with count_statements() as statements:
        second = client.get("/search?q=nasi+lemak", headers=BROWSER)
    assert text(second) == text(first)
    assert statements == []
    searches = sum(
        int(count)
        for name, count in redis_client.hgetall(keys.BUFFER).items()
        if name.decode().startswith("metric|searches|")
    )
    assert searches == 2
    typing = client.get("/search?q=nasi+lemak", headers={**BROWSER, "HX-Request": "true",
                                                          "HX-Trigger": "q"})  # fmt: skip
    assert "<html" not in text(typing)  # live search: its own entry, not the full page


def test_signed_in_in_production_means_the_secure_cookie_too(app, db_session, cached, monkeypatch):
    """With secure cookies the session cookie is ``__Host-session``: still a signed-in diner."""
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    restaurant = RestaurantFactory(name="Nasi Lemak Wanjo")
    UserFactory(username="amira")
    diner = BrowserClient(app, app.response_class, use_cookies=True)
    diner.get(f"/restaurants/{restaurant.slug}", base_url="https://localhost", headers=BROWSER)
    found = CSRF.search(text(diner.get("/auth/login", base_url="https://localhost")))
    token = found.group(1) or found.group(2)
    https = {**BROWSER, "Referer": "https://localhost/auth/login"}  # Flask-WTF checks it on TLS
    signed = diner.post("/auth/login", base_url="https://localhost", headers=https,
                        data={"identifier": "amira", "password": TEST_PASSWORD, "csrf_token": token})  # fmt: skip
    assert signed.status_code == 302
    assert diner.get_cookie("__Host-session") is not None
    page = diner.get(f"/restaurants/{restaurant.slug}", base_url="https://localhost",
                     headers=BROWSER)  # fmt: skip
    assert "Log out" in text(page)


def test_long_htmx_headers_do_not_grow_the_key(client, cached):
    restaurant = RestaurantFactory()
    client.get(f"/restaurants/{restaurant.slug}",
               headers={**BROWSER, "HX-Target": "x" * 8000, "HX-Boosted": "y" * 8000})  # fmt: skip
    assert cached.size_bytes < 100_000
    assert all(len(part) < 300 for key in cached._entries for part in key)
