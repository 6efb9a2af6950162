"""Read queries for public profiles: each page costs a fixed number of statements."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from bellyfed.accounts.models import User
from bellyfed.dishes.models import Dish, DishType
from bellyfed.extensions import db
from bellyfed.rankings.models import Ranking
from bellyfed.restaurants.models import Restaurant


@dataclass(frozen=True)
class TopFiveEntry:
    """One place in a diner's top-5: the dish and where to eat it."""

    position: int
    dish_name: str
    restaurant_name: str
    restaurant_slug: str
    restaurant_active: bool


@dataclass(frozen=True)
class TopFive:
    """A diner's current top-5 for one dish type, best first."""

    dish_type_name: str
    dish_type_slug: str
    entries: list[TopFiveEntry]


def public_user(username: str) -> User | None:
    """The active account called ``username``, with its home city loaded."""
    return db.session.scalar(
        select(User)
        .options(joinedload(User.home_city))
        .where(User.username == username, User.is_active)
    )


def top_fives(user_id: int) -> list[TopFive]:
    """Every top-5 the diner keeps, by dish type name, in one query."""
    rows = db.session.execute(
        select(
            DishType.name.label("type_name"),
            DishType.slug.label("type_slug"),
            Ranking.position,
            Dish.name.label("dish_name"),
            Restaurant.name.label("restaurant_name"),
            Restaurant.slug.label("restaurant_slug"),
            Restaurant.is_active.label("restaurant_active"),
        )
        .join(Dish, Dish.id == Ranking.dish_id)
        .join(DishType, DishType.id == Ranking.dish_type_id)
        .join(Restaurant, Restaurant.id == Dish.restaurant_id)
        .where(Ranking.user_id == user_id, Ranking.position.is_not(None))
        .order_by(DishType.name, Ranking.position)
    ).all()
    return [
        TopFive(
            dish_type_name=type_name,
            dish_type_slug=type_slug,
            entries=[
                TopFiveEntry(
                    position=row.position,
                    dish_name=row.dish_name,
                    restaurant_name=row.restaurant_name,
                    restaurant_slug=row.restaurant_slug,
                    restaurant_active=row.restaurant_active,
                )
                for row in group
            ],
        )
        for (type_name, type_slug), group in groupby(rows, key=lambda r: (r.type_name, r.type_slug))
    ]
