"""GET /api/v1/dish-types, /api/v1/dish-types/<slug> and /api/v1/dishes/<id>."""

from __future__ import annotations

import pytest

from bellyfed.leaderboards.compute import recompute_all
from bellyfed.leaderboards.queries import dish_types_with_counts
from tests.api.conftest import problem
from tests.factories import (
    CityFactory,
    DishFactory,
    DishTypeFactory,
    DishVoteFactory,
    RestaurantFactory,
)
from tests.leaderboards.boards import dish, rank, top5
from tests.web import count_statements


@pytest.fixture
def town(db_session):
    """Nasi lemak ranked in Kuala Lumpur (four dishes: Royale first) and Penang (one)."""
    kl = CityFactory(slug="kuala-lumpur", name="Kuala Lumpur")
    penang = CityFactory(slug="penang", name="Penang")
    nasi = DishTypeFactory(slug="nasi-lemak", name="Nasi Lemak", description="Coconut rice.")
    DishTypeFactory(slug="apam-balik", name="Apam Balik")
    village = RestaurantFactory(city=kl, slug="village-park", name="Village Park")
    royale = dish(nasi, kl, village, name="Nasi Lemak Royale", price_minor=1450,
                  dietary_tags=["halal"], spice_level=2)  # fmt: skip
    wanjo = dish(nasi, kl, name="Nasi Lemak Wanjo")
    tanglin = dish(nasi, kl, name="Nasi Lemak Tanglin")
    antarabangsa = dish(nasi, kl, name="Nasi Lemak Antarabangsa")
    georgetown = dish(nasi, penang, name="Nasi Lemak Georgetown")
    top5(royale, wanjo, tanglin)
    top5(royale, tanglin)
    top5(royale, wanjo)
    top5(wanjo, royale)
    top5(tanglin)
    top5(antarabangsa)
    top5(georgetown)
    recompute_all()
    return {"royale": royale, "village": village, "georgetown": georgetown}


def test_dish_types_have_counts_and_links(api, app, town):
    response = api.get("/api/v1/dish-types")
    assert response.status_code == 200
    items = response.get_json()["items"]
    with app.test_request_context():
        expected = [kind.slug for kind, _, _ in dish_types_with_counts()]
    assert [item["slug"] for item in items] == expected == ["nasi-lemak", "apam-balik"]
    nasi, apam = items
    assert nasi["name"] == "Nasi Lemak"
    assert nasi["description"] == "Coconut rice."
    assert (nasi["diners"], nasi["cities"], nasi["dishes"]) == (7, 2, 5)
    assert (apam["diners"], apam["cities"], apam["dishes"]) == (0, 0, 0)
    assert nasi["url"].endswith("/api/v1/dish-types/nasi-lemak")
    assert nasi["leaderboards"].endswith("/api/v1/leaderboards/nasi-lemak")
    assert nasi["web_url"].endswith("/dishes/nasi-lemak")
    assert api.get(nasi["leaderboards"]).status_code == 200


def test_a_dish_type_has_each_city_top_three_and_links_to_the_boards(api, town):
    response = api.get("/api/v1/dish-types/nasi-lemak")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["slug"], body["name"], body["description"]) == (
        "nasi-lemak",
        "Nasi Lemak",
        "Coconut rice.",
    )
    kl, penang = body["boards"]
    assert kl["city"] == {"slug": "kuala-lumpur", "name": "Kuala Lumpur"}
    assert kl["size"] == 4
    assert [r["dish"]["name"] for r in kl["top"]] == [
        "Nasi Lemak Royale",
        "Nasi Lemak Wanjo",
        "Nasi Lemak Tanglin",
    ]
    assert kl["top"][0]["restaurant"]["slug"] == "village-park"
    assert kl["top"][0]["why"].startswith("Ranked by 4 diners")
    assert kl["url"].endswith("/api/v1/leaderboards/nasi-lemak/kuala-lumpur")
    assert api.get(kl["url"]).get_json()["size"] == 4
    assert (penang["size"], len(penang["top"])) == (1, 1)
    assert body["scoring"]["prior_rankers"] == 5
    assert api.get("/api/v1/dish-types/apam-balik").get_json()["boards"] == []


def test_a_dish_has_its_restaurant_standing_and_votes(api, town):
    royale = town["royale"]
    DishVoteFactory(dish_id=royale.id, value=1)
    DishVoteFactory(dish_id=royale.id, value=1)
    DishVoteFactory(dish_id=royale.id, value=-1)
    response = api.get(f"/api/v1/dishes/{royale.id}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == royale.id
    assert body["name"] == "Nasi Lemak Royale"
    assert body["price"] == {"amount_minor": 1450, "currency": "MYR"}
    assert body["dietary_tags"] == ["halal"]
    assert body["spice_level"] == 2
    assert body["is_available"] is True
    assert body["dish_type"] == {"slug": "nasi-lemak", "name": "Nasi Lemak"}
    assert body["restaurant"]["slug"] == "village-park"
    assert body["restaurant"]["city"] == {"slug": "kuala-lumpur", "name": "Kuala Lumpur"}
    assert body["restaurant"]["url"].endswith("/api/v1/restaurants/village-park")
    assert {"rank": 1, "board_size": 4, "rankers": 4}.items() <= body["standing"].items()
    assert body["standing"]["leaderboard"].endswith("/leaderboards/nasi-lemak/kuala-lumpur")
    assert body["votes"] == {"up": 2, "down": 1}
    assert body["url"].endswith(f"/api/v1/dishes/{royale.id}")


def test_an_unranked_untyped_dish_has_no_standing_and_no_votes(api, town):
    plain = DishFactory(restaurant=town["village"], dish_type=None, name="Teh tarik")
    body = api.get(f"/api/v1/dishes/{plain.id}").get_json()
    assert (body["dish_type"], body["standing"]) == (None, None)
    assert body["votes"] == {"up": 0, "down": 0}


def test_the_restaurant_menu_links_to_the_dish(api, town):
    menu = api.get("/api/v1/restaurants/village-park").get_json()["menu"]
    link = menu[0]["dishes"][0]["url"]
    assert api.get(link).get_json()["name"] == "Nasi Lemak Royale"


def test_dishes_of_inactive_restaurants_and_unknown_dishes_are_404_problems(api, town):
    closed = DishFactory(restaurant=RestaurantFactory(is_active=False))
    for dish_id in (closed.id, 0, 2**63 - 1):
        response = api.get(f"/api/v1/dishes/{dish_id}")
        assert response.status_code == 404
        assert str(dish_id) in problem(response)["detail"]
    for path in (str(2**63), "-1", "abc", "1.5"):
        assert problem(api.get(f"/api/v1/dishes/{path}"))["status"] == 404


def test_unknown_dish_types_are_404_problems(api, town):
    response = api.get("/api/v1/dish-types/rendang-pizza")
    assert response.status_code == 404
    assert "rendang-pizza" in problem(response)["detail"]
    assert problem(api.get("/api/v1/dish-types/nasi%00lemak"))["status"] == 400


@pytest.mark.parametrize("url", ["/api/v1/dish-types", "/api/v1/dish-types/nasi-lemak", "dish"])
def test_unchanged_answers_are_304s(api, town, url):
    if url == "dish":
        url = f"/api/v1/dishes/{town['royale'].id}"
    first = api.get(url)
    assert first.headers["ETag"]
    assert api.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304


def statements_for(api, url: str) -> int:
    with count_statements() as statements:
        assert api.get(url).status_code == 200
    return len(statements)


def test_answers_take_a_fixed_number_of_statements(api, town):
    royale = town["royale"]
    urls = ["/api/v1/dish-types", "/api/v1/dish-types/nasi-lemak", f"/api/v1/dishes/{royale.id}"]
    before = [statements_for(api, url) for url in urls]
    kl, nasi = royale.restaurant.city, royale.dish_type
    for n in range(12):
        rank(dish(nasi, kl), 1 + n % 5)
        rank(dish(nasi, CityFactory()), 1)
        DishTypeFactory()
        DishVoteFactory(dish_id=royale.id)
    recompute_all()
    assert [statements_for(api, url) for url in urls] == before
    assert before[0] <= 2
    assert before[1] <= 3
    assert before[2] <= 6  # dish, cuisines, hours, closures, standing, votes


def test_the_document_lists_every_status_the_views_give(api):
    paths = api.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"200", "304", "400"} <= set(paths["/api/v1/dish-types"]["get"]["responses"])
    for path in ("/api/v1/dish-types/{slug}", "/api/v1/dishes/{dish_id}"):
        assert {"200", "304", "400", "404"} <= set(paths[path]["get"]["responses"]), path
