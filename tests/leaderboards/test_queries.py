"""Reading the leaderboards: boards, standings for a menu, dish types, each city's top 3."""

from bellyfed.extensions import db
from bellyfed.leaderboards.compute import recompute_all
from bellyfed.leaderboards.queries import (
    Standing,
    board,
    cities_with_boards,
    city_boards,
    dish_types_with_counts,
    standings_for_dishes,
)
from tests.factories import CityFactory, DishTypeFactory
from tests.leaderboards.boards import dish, rank, top5
from tests.web import count_statements


def test_a_board_pages_by_rank(db_session):
    city, kind = CityFactory(), DishTypeFactory()
    dishes = [dish(kind, city) for _ in range(5)]
    for n, ranked in enumerate(dishes):
        rank(ranked, *[1] * (5 - n))  # the first dish has the most #1s
    recompute_all()

    first = board(kind, city, limit=2)
    rest = board(kind, city, limit=10, after_rank=2)

    assert [row.dish.id for row in first + rest] == [d.id for d in dishes]
    assert [row.entry.rank for row in rest] == [3, 4, 5]
    assert rest[0].restaurant.slug == dishes[2].restaurant.slug


def test_standings_for_a_whole_menu_take_one_query(db_session):
    kl = CityFactory(slug="kuala-lumpur", name="Kuala Lumpur")
    nasi = DishTypeFactory(slug="nasi-lemak", name="Nasi Lemak")
    laksa = DishTypeFactory(slug="curry-laksa", name="Curry Laksa")
    menu = [dish(nasi, kl), dish(laksa, kl), dish(None, kl), dish(nasi, kl)]
    rival = dish(nasi, kl)
    rank(rival, 1, 1)
    rank(menu[0], 1)
    rank(menu[1], 2)
    recompute_all()
    menu_ids = [d.id for d in menu]
    db.session.expire_all()

    with count_statements() as statements:
        standings = standings_for_dishes(menu_ids)

    assert len(statements) == 1
    assert standings == {
        menu[0].id: Standing(2, 2, 1, "nasi-lemak", "Nasi Lemak", "kuala-lumpur", "Kuala Lumpur"),
        menu[1].id: Standing(1, 1, 1, "curry-laksa", "Curry Laksa", "kuala-lumpur", "Kuala Lumpur"),
    }
    assert standings_for_dishes([]) == {}


def test_dish_types_count_their_diners_and_cities(db_session):
    kl, penang = CityFactory(), CityFactory()
    nasi = DishTypeFactory(name="Nasi Lemak")
    laksa = DishTypeFactory(name="Curry Laksa")
    unranked = DishTypeFactory(name="Apam Balik")
    a, b, c = dish(nasi, kl), dish(nasi, kl), dish(nasi, penang)
    top5(a, b)
    top5(b, a, c)
    top5(c)
    top5(dish(laksa, kl))
    recompute_all()

    assert dish_types_with_counts() == [(nasi, 3, 2), (laksa, 1, 1), (unranked, 0, 0)]


def test_each_city_top_three_in_two_queries(db_session):
    kind = DishTypeFactory()
    cities = [CityFactory(name=name) for name in ("Penang", "Ipoh", "Melaka")]
    for city in cities:
        for n in range(5):
            rank(dish(kind, city), *[1] * (5 - n))
    rank(dish(DishTypeFactory(), cities[0]), 1)  # another dish type's board
    recompute_all()
    db.session.expire_all()
    db.session.refresh(kind)

    with count_statements() as statements:
        boards = city_boards(kind, top=3)
        names = [(b.city.name, b.size, [row.entry.rank for row in b.top]) for b in boards]
        restaurants = {row.restaurant.name for b in boards for row in b.top}

    assert len(statements) == 2
    assert names == [("Ipoh", 5, [1, 2, 3]), ("Melaka", 5, [1, 2, 3]), ("Penang", 5, [1, 2, 3])]
    assert len(restaurants) == 9
    assert [(city.name, size) for city, size in cities_with_boards(kind)] == [
        ("Ipoh", 5), ("Melaka", 5), ("Penang", 5)
    ]  # fmt: skip
