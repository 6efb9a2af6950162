"""Read the precomputed leaderboards for pages: each function is a fixed number of queries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased, contains_eager

from bellyfed.core.memo import aggregate
from bellyfed.dishes.models import Dish, DishType
from bellyfed.extensions import db
from bellyfed.leaderboards.models import LeaderboardEntry
from bellyfed.leaderboards.scoring import why_line
from bellyfed.restaurants.models import City, Restaurant


@dataclass(frozen=True)
class BoardRow:
    """One dish on a board, with its restaurant loaded."""

    entry: LeaderboardEntry
    dish: Dish
    restaurant: Restaurant

    @property
    def why(self) -> str:
        """The one-line reason it stands here."""
        return why_line(self.entry.rankers, self.entry.points, self.entry.first_places)


@dataclass(frozen=True)
class Standing:
    """Where a dish stands on its city's board (for the restaurant page's menu)."""

    rank: int
    board_size: int
    rankers: int
    dish_type_slug: str
    dish_type_name: str
    city_slug: str
    city_name: str


@dataclass(frozen=True)
class CityBoard:
    """A city's board for one dish type: its size and its first few rows."""

    city: City
    size: int
    top: list[BoardRow] = field(default_factory=list)


def dish_type_by_slug(slug: str) -> DishType | None:
    """The dish type with this slug, if any."""
    return db.session.scalar(select(DishType).where(DishType.slug == slug))


def city_by_slug(slug: str) -> City | None:
    """The city with this slug, if any."""
    return db.session.scalar(select(City).where(City.slug == slug))


def board(dish_type: DishType, city: City, limit: int = 50, after_rank: int = 0) -> list[BoardRow]:
    """The board's rows ranked after ``after_rank`` (a keyset cursor), best first."""
    entries = db.session.scalars(
        _rows_query()
        .where(
            LeaderboardEntry.dish_type_id == dish_type.id,
            LeaderboardEntry.city_id == city.id,
            LeaderboardEntry.rank > after_rank,
        )
        .order_by(LeaderboardEntry.rank)
        .limit(limit)
    )
    return [_row(entry) for entry in entries]


def cities_with_boards(dish_type: DishType) -> list[tuple[City, int]]:
    """Every city that has a board for this dish type, with its number of dishes, by name."""
    size = func.max(LeaderboardEntry.rank)  # ranks run 1..n without gaps
    rows = db.session.execute(
        select(City, size)
        .join(LeaderboardEntry, LeaderboardEntry.city_id == City.id)
        .where(LeaderboardEntry.dish_type_id == dish_type.id)
        .group_by(City.id)
        .order_by(City.name)
    )
    return [(city, n) for city, n in rows]


def city_boards(dish_type: DishType, top: int = 3) -> list[CityBoard]:
    """Each city's board for the dish type with its ``top`` rows, in two queries."""
    boards = {city.id: CityBoard(city, size) for city, size in cities_with_boards(dish_type)}
    entries = db.session.scalars(
        _rows_query()
        .where(LeaderboardEntry.dish_type_id == dish_type.id, LeaderboardEntry.rank <= top)
        .order_by(LeaderboardEntry.city_id, LeaderboardEntry.rank)
    )
    for entry in entries:
        boards[entry.city_id].top.append(_row(entry))
    return list(boards.values())


def standings_for_dishes(dish_ids: Iterable[int]) -> dict[int, Standing]:
    """Each ranked dish's place on its board, keyed by dish id, in one query."""
    ids = sorted(set(dish_ids))
    if not ids:
        return {}
    entry, same_board = LeaderboardEntry, aliased(LeaderboardEntry)
    board_size = (
        select(func.max(same_board.rank))
        .where(same_board.dish_type_id == entry.dish_type_id, same_board.city_id == entry.city_id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(entry.dish_id, entry.rank, board_size, entry.rankers, DishType.slug, DishType.name,
               City.slug, City.name)
        .join(DishType, DishType.id == entry.dish_type_id)
        .join(City, City.id == entry.city_id)
        .where(entry.dish_id.in_(ids))
    )  # fmt: skip
    return {dish_id: Standing(*standing) for dish_id, *standing in rows}


@aggregate
def dish_types_with_counts() -> list[tuple[DishType, int, int]]:
    """Every dish type with how many diners ranked it and in how many cities, most ranked first."""
    # A diner's ranked dishes of a type hold positions 1..n (rankings.services), so each diner
    # has exactly one #1: summing #1s counts diners without scanning the rankings.
    entry = LeaderboardEntry
    boards = (
        select(
            entry.dish_type_id,
            func.sum(entry.first_places).label("diners"),
            func.count(func.distinct(entry.city_id)).label("cities"),
        )
        .group_by(entry.dish_type_id)
        .subquery()
    )
    diners, cities = func.coalesce(boards.c.diners, 0), func.coalesce(boards.c.cities, 0)
    rows = db.session.execute(
        select(DishType, diners, cities)
        .outerjoin(boards, boards.c.dish_type_id == DishType.id)
        .order_by(diners.desc(), DishType.name)
    )
    return [(dish_type, int(n_diners), n_cities) for dish_type, n_diners, n_cities in rows]


def _rows_query() -> Select[tuple[LeaderboardEntry]]:
    return (
        select(LeaderboardEntry)
        .join(LeaderboardEntry.dish)
        .join(Dish.restaurant)
        .options(contains_eager(LeaderboardEntry.dish).contains_eager(Dish.restaurant))
    )


def _row(entry: LeaderboardEntry) -> BoardRow:
    return BoardRow(entry=entry, dish=entry.dish, restaurant=entry.dish.restaurant)
