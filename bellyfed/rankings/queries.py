"""Read queries for the diner's own rankings pages and the dish cards."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from bellyfed.dishes.models import Dish, DishType
from bellyfed.extensions import db
from bellyfed.rankings.models import Ranking, RankingHistory
from bellyfed.restaurants.models import Restaurant


@dataclass
class TypeList:
    """One dish type's top-5 and taste marks for a diner."""

    dish_type: DishType
    ranked: list[Ranking]
    marked: list[Ranking]


def _with_dish():  # noqa: ANN202 - loader options
    return (
        joinedload(Ranking.dish).joinedload(Dish.restaurant).joinedload(Restaurant.city),
        joinedload(Ranking.dish).joinedload(Dish.dish_type),
    )


def lists_for(user_id: int, dish_type_id: int | None = None) -> list[TypeList]:
    """The diner's rankings grouped by dish type (alphabetical), in one query."""
    query = select(Ranking).where(Ranking.user_id == user_id).options(*_with_dish())
    if dish_type_id is not None:
        query = query.where(Ranking.dish_type_id == dish_type_id)
    groups: dict[int, TypeList] = {}
    for ranking in db.session.scalars(
        query.order_by(Ranking.position.nulls_last(), Ranking.updated_at.desc())
    ):
        dish_type = ranking.dish.dish_type
        group = groups.setdefault(dish_type.id, TypeList(dish_type, [], []))
        (group.ranked if ranking.position is not None else group.marked).append(ranking)
    return sorted(groups.values(), key=lambda g: g.dish_type.name)


def my_rankings_for(user_id: int | None, dish_ids: Iterable[int]) -> dict[int, Ranking]:
    """The diner's ranking of each of these dishes (for the cards' current state)."""
    ids = list(set(dish_ids))
    if user_id is None or not ids:
        return {}
    rows = db.session.scalars(
        select(Ranking).where(Ranking.user_id == user_id, Ranking.dish_id.in_(ids))
    )
    return {r.dish_id: r for r in rows}


def history_for(user_id: int, limit: int = 100) -> list[tuple[RankingHistory, Dish]]:
    """The diner's latest ranking changes, newest first."""
    return list(
        db.session.execute(
            select(RankingHistory, Dish)
            .join(Dish, Dish.id == RankingHistory.dish_id)
            .options(joinedload(Dish.restaurant), joinedload(Dish.dish_type))
            .where(RankingHistory.user_id == user_id)
            .order_by(RankingHistory.created_at.desc(), RankingHistory.id.desc())
            .limit(limit)
        ).all()
    )


def recently_dropped(user_id: int, days: int = 30) -> list[tuple[RankingHistory, Dish]]:
    """Dishes that fell out of (or were removed from) the top-5 lately and are not back in it."""
    since = datetime.now(UTC) - timedelta(days=days)
    still_ranked = select(Ranking.dish_id).where(
        Ranking.user_id == user_id, Ranking.position.is_not(None)
    )
    rows = db.session.execute(
        select(RankingHistory, Dish)
        .join(Dish, Dish.id == RankingHistory.dish_id)
        .options(joinedload(Dish.restaurant), joinedload(Dish.dish_type))
        .where(
            RankingHistory.user_id == user_id,
            RankingHistory.action.in_(("dropped", "removed")),
            RankingHistory.old_position.is_not(None),
            RankingHistory.created_at >= since,
            RankingHistory.dish_id.not_in(still_ranked),
        )
        .order_by(RankingHistory.created_at.desc())
    ).all()
    seen: dict[int, tuple[RankingHistory, Dish]] = {}
    for entry, dish in rows:
        seen.setdefault(dish.id, (entry, dish))
    return list(seen.values())
