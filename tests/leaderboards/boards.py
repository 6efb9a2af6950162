"""Building leaderboards from real rows: dishes in cities, and diners who rank them."""

from sqlalchemy import select

from bellyfed.extensions import db
from bellyfed.leaderboards.models import LeaderboardEntry
from tests.factories import DishFactory, RankingFactory, RestaurantFactory, UserFactory


def dish(dish_type, city, restaurant=None, **fields):
    """A dish of ``dish_type`` at ``restaurant``, or at a new restaurant in ``city``."""
    restaurant = restaurant or RestaurantFactory(city=city)
    return DishFactory(dish_type=dish_type, restaurant=restaurant, **fields)


def rank(dish, *positions: int) -> None:
    """One new diner per position, each putting ``dish`` at that position."""
    for position in positions:
        RankingFactory(user_id=UserFactory().id, dish_id=dish.id, position=position)


def top5(*dishes) -> None:
    """One new diner whose top-5 is these dishes, in this order (#1 first)."""
    user_id = UserFactory().id
    for position, ranked in enumerate(dishes, start=1):
        RankingFactory(user_id=user_id, dish_id=ranked.id, position=position)


def entries(dish_type=None, city=None) -> list[tuple]:
    """(dish id, rank, rankers, points, first places) of a board, or of every board, in order."""
    query = select(
        LeaderboardEntry.dish_type_id,
        LeaderboardEntry.city_id,
        LeaderboardEntry.dish_id,
        LeaderboardEntry.rank,
        LeaderboardEntry.rankers,
        LeaderboardEntry.points,
        LeaderboardEntry.first_places,
        LeaderboardEntry.score,
    ).order_by(LeaderboardEntry.dish_type_id, LeaderboardEntry.city_id, LeaderboardEntry.rank)
    if dish_type is not None:
        query = query.where(
            LeaderboardEntry.dish_type_id == dish_type.id, LeaderboardEntry.city_id == city.id
        )
        return [tuple(row[2:7]) for row in db.session.execute(query)]
    return [tuple(row) for row in db.session.execute(query)]
