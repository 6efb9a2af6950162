"""Public profiles: who the diner is and their current top-5s, in a fixed number of queries."""

import re

import pytest

from tests.factories import (
    CityFactory,
    DishFactory,
    DishTypeFactory,
    RankingFactory,
    RestaurantFactory,
    UserFactory,
)
from tests.web import count_statements, text


def rank_top_five(user, dish_type, count=5):
    """Rank ``count`` dishes of ``dish_type``, each at its own restaurant; returns the dishes."""
    dishes = [
        DishFactory(
            dish_type=dish_type,
            name=f"{dish_type.name} {n}",
            restaurant=RestaurantFactory(name=f"{dish_type.name} Place {n}"),
        )
        for n in range(1, count + 1)
    ]
    for position, dish in enumerate(dishes, start=1):
        RankingFactory(user_id=user.id, dish_id=dish.id, position=position)
    return dishes


def test_the_profile_shows_who_the_diner_is(client):
    UserFactory(
        username="siti",
        display_name="Siti Lim",
        bio="Laksa first, questions later.",
        home_city=CityFactory(name="Penang"),
    )
    page = text(client.get("/users/siti"))
    assert '<h1 id="profile-name">Siti Lim</h1>' in page
    assert "@siti · Penang" in page
    assert "Laksa first, questions later." in page
    assert "Siti Lim hasn't ranked any dishes yet." in page


def test_the_profile_shows_each_top_five_in_order(client):
    siti = UserFactory(username="siti")
    laksa, nasi = (
        DishTypeFactory(name="Laksa", slug="laksa"),
        DishTypeFactory(name="Nasi Lemak", slug="nasi-lemak"),
    )
    rank_top_five(siti, nasi, 2)
    kedai = RestaurantFactory(name="Kedai Laksa", slug="kedai-laksa")
    RankingFactory(
        user_id=siti.id,
        dish_id=DishFactory(dish_type=laksa, name="Asam Laksa", restaurant=kedai).id,
        position=2,
    )
    RankingFactory(
        user_id=siti.id,
        dish_id=DishFactory(dish_type=laksa, name="Curry Laksa", restaurant=kedai).id,
        position=1,
    )
    RankingFactory(
        user_id=siti.id,
        dish_id=DishFactory(dish_type=laksa, name="Meh Laksa").id,
        position=None,
        taste_status="dissatisfied",
    )

    page = text(client.get("/users/siti"))

    headings = re.findall(r'<h3 id="top-five-[\w-]+">\s*<a href="([^"]+)">([^<]+)</a>', page)
    assert headings == [("/dishes/laksa", "Laksa"), ("/dishes/nasi-lemak", "Nasi Lemak")]
    dishes = re.findall(r'<span class="dish">([^<]+)</span>', page)
    assert dishes == ["Curry Laksa", "Asam Laksa", "Nasi Lemak 1", "Nasi Lemak 2"]
    assert re.findall(r'<li value="(\d)">', page) == ["1", "2", "1", "2"]
    assert '<a href="/restaurants/kedai-laksa">Kedai Laksa</a>' in page
    assert "Meh Laksa" not in page, "taste-status marks are not part of a top-5"


def test_other_diners_rankings_are_not_shown(client):
    UserFactory(username="siti")
    rank_top_five(UserFactory(username="ahmad"), DishTypeFactory(name="Satay"))
    assert "Satay" not in text(client.get("/users/siti"))


def test_a_restaurant_no_longer_listed_is_not_linked(client):
    siti = UserFactory(username="siti")
    gone = RestaurantFactory(name="Gone Kopitiam", slug="gone-kopitiam", is_active=False)
    RankingFactory(user_id=siti.id, dish_id=DishFactory(restaurant=gone).id, position=1)
    page = text(client.get("/users/siti"))
    assert "Gone Kopitiam (no longer listed)" in page
    assert "/restaurants/gone-kopitiam" not in page


def test_the_page_costs_the_same_few_queries_however_many_top_fives(client):
    small, large = UserFactory(username="small"), UserFactory(username="large")
    rank_top_five(small, DishTypeFactory())
    for _ in range(4):
        rank_top_five(large, DishTypeFactory())

    with count_statements() as for_small:
        assert client.get("/users/small").status_code == 200
    with count_statements() as for_large:
        assert client.get("/users/large").status_code == 200

    assert len(for_small) == len(for_large) == 2, for_large


@pytest.mark.parametrize("username", ["nobody", "ab", "x" * 200])
def test_an_unknown_diner_is_a_clear_404(client, username):
    response = client.get(f"/users/{username}")
    assert response.status_code == 404
    assert f"There&#39;s no diner called “{username}” on Bellyfed." in text(response)


def test_a_deactivated_diner_is_not_shown(client):
    UserFactory(username="siti", is_active=False)
    assert client.get("/users/siti").status_code == 404


def test_a_username_in_capitals_redirects_to_the_real_address(client):
    UserFactory(username="siti")
    response = client.get("/users/Siti")
    assert response.status_code == 301
    assert response.headers["Location"] == "/users/siti"
