"""The request path: one pipelined Redis round trip, no DynamoDB, bots ignored, Redis down is fine."""

from __future__ import annotations

import pytest
import redis

from bellyfed.analytics import events, keys
from tests.factories import RestaurantFactory
from tests.web import text

BROWSER = {"User-Agent": "Mozilla/5.0 (Linux; Android 14) Chrome/130.0 Mobile"}


def buffer(redis_client) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in redis_client.hgetall(keys.BUFFER).items()}


def test_a_page_view_is_buffered_with_its_visitor(client, analytics):
    restaurant = RestaurantFactory()
    assert client.get(f"/restaurants/{restaurant.slug}", headers=BROWSER).status_code == 200
    fields = buffer(analytics)
    [(field, count)] = [
        (f, c) for f, c in fields.items() if f.startswith(f"view|restaurant:{restaurant.id}|")
    ]
    assert count == 1
    hour = field.rsplit("|", 1)[1][:13]
    assert analytics.pfcount(keys.hll_key("view", f"restaurant:{restaurant.id}", hour)) == 1


def test_bots_are_not_counted(client, analytics):
    restaurant = RestaurantFactory()
    for agent in ("Googlebot/2.1 (+http://www.google.com/bot.html)", "curl/8.5", ""):
        client.get(f"/restaurants/{restaurant.slug}", headers={"User-Agent": agent})
    assert buffer(analytics) == {}


def test_one_pipelined_round_trip_and_no_dynamodb_call_per_request(client, analytics, monkeypatch):
    restaurant = RestaurantFactory()
    real = events.get_redis

    class Counting:
        round_trips = 0

        def __init__(self, inner):
            self.inner = inner

        def pipeline(self, **kwargs):
            pipe = self.inner.pipeline(**kwargs)
            execute = pipe.execute

            def counted():
                Counting.round_trips += 1
                return execute()

            pipe.execute = counted
            return pipe

        def __getattr__(self, name):  # any direct command would be an extra round trip
            raise AssertionError(f"direct Redis call {name} on the request path")

    monkeypatch.setattr(events, "get_redis", lambda: Counting(real()))
    monkeypatch.setattr(
        "bellyfed.dynamo.resource", lambda: pytest.fail("DynamoDB called on the request path")
    )
    client.get(f"/restaurants/{restaurant.slug}", headers=BROWSER)
    assert Counting.round_trips == 1


def test_redis_down_still_serves_the_page_and_counts_the_loss(client, db_session, app, monkeypatch):
    restaurant = RestaurantFactory()
    dead = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    monkeypatch.setattr(events, "get_redis", lambda: dead)
    before = events.lost_events
    response = client.get(f"/restaurants/{restaurant.slug}", headers=BROWSER)
    assert response.status_code == 200
    assert restaurant.name in text(response)
    assert events.lost_events == before + 1


def test_contact_links_are_counted_and_still_lead_there(client, analytics):
    restaurant = RestaurantFactory(phone="+60 3-1234 5678", website="https://stall.example.com")
    phone = client.get(f"/go/{restaurant.id}/phone", headers=BROWSER)
    assert (phone.status_code, phone.headers["Location"]) == (302, "tel:+603-12345678")
    site = client.get(f"/go/{restaurant.id}/website", headers=BROWSER)
    assert site.headers["Location"] == "https://stall.example.com"
    directions = client.get(f"/go/{restaurant.id}/directions", headers=BROWSER)
    assert directions.headers["Location"].startswith(
        "https://www.google.com/maps/dir/?api=1&destination="
    )
    clicks = {f.split("|")[1]: c for f, c in buffer(analytics).items() if f.startswith("click|")}
    assert clicks == {
        f"restaurant:{restaurant.id}:{link}": 1 for link in ("phone", "website", "directions")
    }
    assert client.get(f"/go/{restaurant.id}/fax").status_code == 404
    no_site = RestaurantFactory(website=None)
    assert client.get(f"/go/{no_site.id}/website").status_code == 404


def test_searches_are_counted_once_per_search_not_per_page(client, analytics):
    client.get("/search?q=laksa", headers=BROWSER)
    fields = buffer(analytics)
    assert sum(c for f, c in fields.items() if f.startswith("metric|searches|")) == 1


def test_head_requests_and_live_typing_are_not_counted(client, analytics):
    restaurant = RestaurantFactory()
    client.head(f"/restaurants/{restaurant.slug}", headers=BROWSER)
    client.get("/search?q=lak", headers={**BROWSER, "HX-Request": "true", "HX-Trigger": "q"})
    assert buffer(analytics) == {}
    client.get(
        "/search?q=laksa&city=", headers={**BROWSER, "HX-Request": "true", "HX-Trigger": "city"}
    )
    assert any(f.startswith("metric|searches|") for f in buffer(analytics))


def test_user_supplied_entities_are_capped(client, analytics):
    client.get("/search?q=" + "x" * 100, headers=BROWSER)
    longest = max(len(f.split("|")[1]) for f in buffer(analytics))
    assert longest <= events.MAX_ENTITY
