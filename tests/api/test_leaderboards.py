"""GET /api/v1/leaderboards/<type> and /api/v1/leaderboards/<type>/<city>: the city boards."""

from __future__ import annotations

import pytest

from bellyfed.api import leaderboards as api_leaderboards
from bellyfed.leaderboards import scoring
from bellyfed.leaderboards.compute import recompute_all
from bellyfed.leaderboards.queries import board, city_by_slug, dish_type_by_slug
from tests.api.conftest import problem
from tests.factories import CityFactory, DishTypeFactory, RestaurantFactory
from tests.leaderboards.boards import dish, rank, top5
from tests.web import count_statements

BOARD = "/api/v1/leaderboards/nasi-lemak/kuala-lumpur"


@pytest.fixture
def town(db_session):
    """Nasi lemak boards in Kuala Lumpur (four dishes) and Penang (one); Ipoh has none.

    Kuala Lumpur's scores: Royale 34/9, Wanjo 28/8, Tanglin 27/8, Antarabangsa 20/6.
    """
    kl = CityFactory(slug="kuala-lumpur", name="Kuala Lumpur")
    penang = CityFactory(slug="penang", name="Penang")
    CityFactory(slug="ipoh", name="Ipoh")
    nasi = DishTypeFactory(slug="nasi-lemak", name="Nasi Lemak")
    DishTypeFactory(slug="apam-balik", name="Apam Balik")
    village = RestaurantFactory(city=kl, slug="village-park", name="Village Park")
    royale = dish(nasi, kl, village, name="Nasi Lemak Royale", price_minor=1450)
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
    return {"royale": royale, "wanjo": wanjo, "tanglin": tanglin,
            "antarabangsa": antarabangsa, "georgetown": georgetown}  # fmt: skip


def test_a_board_has_the_web_page_rows_numbers_and_reasons(api, app, town):
    response = api.get(BOARD)
    assert response.status_code == 200
    body = response.get_json()
    assert body["dish_type"] == {"slug": "nasi-lemak", "name": "Nasi Lemak"}
    assert body["city"] == {"slug": "kuala-lumpur", "name": "Kuala Lumpur"}
    assert body["size"] == 4
    assert body["after_rank"] == 0
    with app.test_request_context():
        expected = board(dish_type_by_slug("nasi-lemak"), city_by_slug("kuala-lumpur"))
        assert [r["dish"]["id"] for r in body["rows"]] == [row.dish.id for row in expected]
        assert [r["why"] for r in body["rows"]] == [row.why for row in expected]
    royale = body["rows"][0]
    assert royale["rank"] == 1
    assert royale["dish"]["id"] == town["royale"].id
    assert royale["dish"]["name"] == "Nasi Lemak Royale"
    assert royale["dish"]["price"] == {"amount_minor": 1450, "currency": "MYR"}
    assert royale["dish"]["url"].endswith(f"/api/v1/dishes/{town['royale'].id}")
    assert royale["restaurant"]["slug"] == "village-park"
    assert royale["restaurant"]["name"] == "Village Park"
    assert royale["restaurant"]["url"].endswith("/api/v1/restaurants/village-park")
    assert royale["restaurant"]["web_url"].endswith("/restaurants/village-park")
    assert (royale["points"], royale["rankers"], royale["first_places"]) == (34 - 15, 4, 3)
    assert royale["score"] == pytest.approx(34 / 9)
    assert royale["why"].startswith("Ranked by 4 diners, 3 put it #1 · 4.8 of 5 points")
    assert [r["rank"] for r in body["rows"]] == [1, 2, 3, 4]
    assert body["next"] is None
    assert body["next_after_rank"] is None
    assert body["web_url"].endswith("/dishes/nasi-lemak/kuala-lumpur")
    assert [b["city"]["slug"] for b in body["other_boards"]] == ["penang"]
    assert body["other_boards"][0]["size"] == 1
    assert body["other_boards"][0]["url"].endswith("/api/v1/leaderboards/nasi-lemak/penang")


def test_a_board_says_how_it_is_scored(api, town):
    facts = api.get(BOARD).get_json()["scoring"]
    assert facts["prior_points"] == scoring.PRIOR_POINTS
    assert facts["prior_rankers"] == scoring.PRIOR_RANKERS
    assert facts["prior_position"] == 3
    assert facts["points_by_position"] == [5, 4, 3, 2, 1]
    assert facts["example_single_first"] == pytest.approx(20 / 6)
    assert facts["example_forty_firsts"] > facts["example_single_first"]
    assert "prior_rankers" in facts["formula"]
    assert "rankers" in facts["ties"]


def test_a_board_pages_by_rank(api, town, monkeypatch):
    monkeypatch.setattr(api_leaderboards, "PAGE_SIZE", 2)
    first = api.get(BOARD).get_json()
    assert [r["dish"]["name"] for r in first["rows"]] == ["Nasi Lemak Royale", "Nasi Lemak Wanjo"]
    assert first["next_after_rank"] == 2
    assert first["next"].endswith(f"{BOARD}?after_rank=2")

    second = api.get(first["next"]).get_json()
    assert second["after_rank"] == 2
    assert [r["rank"] for r in second["rows"]] == [3, 4]
    assert second["next"] is None

    past_the_end = api.get(f"{BOARD}?after_rank=40")
    assert past_the_end.status_code == 200
    assert past_the_end.get_json()["rows"] == []
    assert past_the_end.get_json()["size"] == 4


def test_a_city_without_rankings_has_an_empty_board(api, town):
    body = api.get("/api/v1/leaderboards/nasi-lemak/ipoh").get_json()
    assert (body["size"], body["rows"], body["next"]) == (0, [], None)
    assert len(body["other_boards"]) == 2


def test_cities_with_boards_for_a_dish_type(api, town):
    response = api.get("/api/v1/leaderboards/nasi-lemak")
    assert response.status_code == 200
    body = response.get_json()
    assert body["dish_type"] == {"slug": "nasi-lemak", "name": "Nasi Lemak"}
    assert [(b["city"]["name"], b["size"]) for b in body["boards"]] == [
        ("Kuala Lumpur", 4),
        ("Penang", 1),
    ]
    assert body["boards"][0]["url"].endswith(BOARD)
    assert body["boards"][0]["web_url"].endswith("/dishes/nasi-lemak/kuala-lumpur")
    assert body["web_url"].endswith("/dishes/nasi-lemak")
    assert api.get("/api/v1/leaderboards/apam-balik").get_json()["boards"] == []


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("/api/v1/leaderboards/rendang-pizza", "rendang-pizza"),
        ("/api/v1/leaderboards/rendang-pizza/kuala-lumpur", "rendang-pizza"),
        ("/api/v1/leaderboards/nasi-lemak/atlantis", "atlantis"),
    ],
)
def test_unknown_slugs_are_404_problems(api, town, url, needle):
    response = api.get(url)
    assert response.status_code == 404
    assert needle in problem(response)["detail"]


@pytest.mark.parametrize("after", ["-1", "abc", "²", "1.5", "", "9999999999", "1" + "0" * 40])
def test_a_bad_after_rank_is_a_400_problem(api, town, after):
    response = api.get(f"{BOARD}?after_rank={after}")
    assert response.status_code == 400
    assert "after_rank" in problem(response)["errors"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/leaderboards/nasi%00lemak",
        "/api/v1/leaderboards/nasi-lemak/kuala%00lumpur",
        f"{BOARD}?after_rank=1%00",
    ],
)
def test_nul_bytes_are_400_problems(api, town, url):
    assert problem(api.get(url))["status"] == 400


def test_an_unchanged_board_is_a_304(api, town):
    first = api.get(BOARD)
    assert first.headers["ETag"]
    again = api.get(BOARD, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def statements_for(api, url: str) -> int:
    with count_statements() as statements:
        assert api.get(url).status_code == 200
    return len(statements)


def test_boards_take_a_fixed_number_of_statements(api, town):
    board_before = statements_for(api, BOARD)
    cities_before = statements_for(api, "/api/v1/leaderboards/nasi-lemak")
    kl, nasi = town["royale"].restaurant.city, town["royale"].dish_type
    for n in range(12):
        rank(dish(nasi, kl), 1 + n % 5)
        rank(dish(nasi, CityFactory()), 1)
    recompute_all()
    assert statements_for(api, BOARD) == board_before <= 4
    assert statements_for(api, "/api/v1/leaderboards/nasi-lemak") == cities_before <= 2


def test_the_document_lists_every_status_the_views_give(api):
    paths = api.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/leaderboards/{type_slug}",
        "/api/v1/leaderboards/{type_slug}/{city_slug}",
    ):
        assert {"200", "304", "400", "404"} <= set(paths[path]["get"]["responses"]), path
    parameters = paths["/api/v1/leaderboards/{type_slug}/{city_slug}"]["get"]["parameters"]
    assert "after_rank" in [p["name"] for p in parameters]
