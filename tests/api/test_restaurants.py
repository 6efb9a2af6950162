"""GET /api/v1/restaurants (the search page's query) and /api/v1/restaurants/<slug>."""

from __future__ import annotations

from datetime import date, time, timedelta

from flask import url_for
from werkzeug.datastructures import MultiDict

from bellyfed.api.restaurants import RestaurantPageSchema
from bellyfed.search.params import parse
from bellyfed.search.queries import search
from tests.api.conftest import problem
from tests.factories import (
    CityFactory,
    CuisineFactory,
    DishFactory,
    DishTypeFactory,
    OperatingHoursFactory,
    RestaurantFactory,
    SpecialClosureFactory,
)


def test_list_matches_the_search_page_query_and_pages_by_cursor(api, app, db_session):
    city = CityFactory(slug="penang", name="Penang")
    spicy = CuisineFactory(slug="nyonya", name="Nyonya")
    for n in range(25):
        RestaurantFactory(city=city, name=f"Laksa House {n:02}", cuisines=[spicy], price_level=2)
    RestaurantFactory(city=city, name="Bakery", price_level=1)
    db_session.flush()

    first = api.get("/api/v1/restaurants?q=laksa&city=penang")
    assert first.status_code == 200
    body = first.get_json()
    assert len(body["items"]) == 20
    with app.test_request_context():
        expected = search(parse(MultiDict({"q": "laksa", "city": "penang"})))
    assert [r["id"] for r in body["items"]] == [r.id for r in expected.restaurants]
    item = body["items"][0]
    assert item["city"] == {"slug": "penang", "name": "Penang"}
    assert item["cuisines"] == ["Nyonya"]
    assert item["url"].endswith(f"/api/v1/restaurants/{item['slug']}")
    # Sent as built, not dumped through the schema: the two must agree (types, keys, nulls).
    assert RestaurantPageSchema().dump(body) == body
    assert {type(item["latitude"]), type(item["rating"] or 0.0)} <= {float}
    with app.test_request_context(base_url="http://localhost"):  # links built once per page
        for listed in body["items"]:
            slug = listed["slug"]
            assert listed["url"] == url_for("api_restaurants.detail", slug=slug, _external=True)
            assert listed["web_url"] == url_for("restaurants.detail", slug=slug, _external=True)
    assert body["next"]
    assert body["next_cursor"]

    second = api.get(body["next"]).get_json()
    assert len(second["items"]) == 5
    assert second["next"] is None
    assert second["next_cursor"] is None
    ids = [r["id"] for r in body["items"] + second["items"]]
    assert len(set(ids)) == 25


def test_bad_parameters_are_400_problems(api):
    for query, needle in [
        ("price=9", "price"),
        ("diet=carnivore", "diet"),
        ("sort=nearest", "near"),
        ("near=nowhere", "near"),
        ("radius_km=5", "near"),
        ("cursor=garbage", "page link"),
        ("city=atlantis", "atlantis"),
        ("q=" + "x" * 101, "q"),
        ("open_now=perhaps", "open_now"),
    ]:
        response = api.get(f"/api/v1/restaurants?{query}")
        assert response.status_code == 400, query
        assert needle in problem(response)["detail"].lower() or needle in str(
            problem(response).get("errors", {})
        ), (query, problem(response))


def test_detail_has_hours_open_state_contact_and_menu(api, db_session):
    restaurant = RestaurantFactory(name="Nasi Kandar Line", phone="+60 4-123 4567")
    for weekday in range(7):
        OperatingHoursFactory(
            restaurant=restaurant, weekday=weekday, opens_at=time(0, 0), closes_at=time(23, 59)
        )
    SpecialClosureFactory(
        restaurant=restaurant,
        starts_on=date.today() + timedelta(days=30),
        ends_on=date.today() + timedelta(days=31),
        reason="Hari Raya",
    )
    kind = DishTypeFactory(slug="nasi-kandar", name="Nasi Kandar")
    DishFactory(restaurant=restaurant, name="Nasi kandar biasa", dish_type=kind, price_minor=1250)
    db_session.flush()

    response = api.get(f"/api/v1/restaurants/{restaurant.slug}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == "Nasi Kandar Line"
    assert body["contact"]["phone"] == "+60 4-123 4567"
    assert len(body["hours"]) == 7
    assert body["hours"][0]["day"] == "Monday"
    assert body["closures"][0]["reason"] == "Hari Raya"
    assert set(body["open_state"]) == {"is_open", "changes_at", "closed_for"}
    dish = body["menu"][0]["dishes"][0]
    assert dish["price"] == {"amount_minor": 1250, "currency": dish["price"]["currency"]}
    assert dish["dish_type"] == {"slug": "nasi-kandar", "name": "Nasi Kandar"}
    assert body["reviews"].endswith(f"/api/v1/restaurants/{restaurant.slug}/reviews")


def test_unknown_and_inactive_restaurants_are_404_problems(api, db_session):
    gone = RestaurantFactory(is_active=False)
    db_session.flush()
    for slug in ("no-such-place", gone.slug):
        response = api.get(f"/api/v1/restaurants/{slug}")
        assert response.status_code == 404
        assert slug in problem(response)["detail"]


def test_unknown_urls_and_methods_are_problems_too(api):
    assert problem(api.get("/api/v1/nothing-here"))["status"] == 404
    assert problem(api.delete("/api/v1/restaurants"))["status"] == 405


def test_unknown_parameters_are_refused_so_they_cannot_bust_the_cache(api):
    response = api.get("/api/v1/restaurants?q=laksa&cachebuster=123")
    assert response.status_code == 400
    assert "cachebuster" in problem(response)["detail"]
