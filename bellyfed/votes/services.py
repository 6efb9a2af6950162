"""Casting, changing and clearing votes; counts and the voter's own state for many items at once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import joinedload

from bellyfed.dishes.models import Dish
from bellyfed.extensions import db
from bellyfed.restaurants.stats import refresh_restaurant_stats
from bellyfed.reviews.models import Review
from bellyfed.search.versions import mark_changed
from bellyfed.votes.models import DishVote, ReviewVote

VoteModel = type[DishVote] | type[ReviewVote]


def _target(model: VoteModel):  # noqa: ANN202 - a mapped column
    return model.dish_id if model is DishVote else model.review_id


def toggle(model: VoteModel, user_id: int, item_id: int, value: int) -> int | None:
    """Cast ``value`` (+1/-1); casting the vote you already have clears it. Returns the new vote."""
    column = _target(model)
    current = db.session.scalar(
        select(model.value).where(model.user_id == user_id, column == item_id)
    )
    if current == value:
        db.session.execute(delete(model).where(model.user_id == user_id, column == item_id))
        new = None
    else:
        statement = insert(model).values(user_id=user_id, value=value, **{column.key: item_id})
        db.session.execute(statement.on_conflict_do_update(
            index_elements=[model.user_id, column], set_={"value": value, "updated_at": func.now()}
        ))  # fmt: skip
        new = value
    if model is DishVote:
        refresh_restaurant_stats(
            db.session.scalars(select(Dish.restaurant_id).where(Dish.id == item_id))
        )
    else:
        mark_changed()  # helpful counts are part of cached API review lists
    return new


def counts(model: VoteModel, item_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """(+1 count, -1 count) per item, in one query."""
    ids = list(set(item_ids))
    if not ids:
        return {}
    column = _target(model)
    rows = db.session.execute(
        select(
            column, func.count().filter(model.value == 1), func.count().filter(model.value == -1)
        )
        .where(column.in_(ids))
        .group_by(column)
    )
    return {item: (up, down) for item, up, down in rows}


def mine(model: VoteModel, user_id: int | None, item_ids: Iterable[int]) -> dict[int, int]:
    """The voter's own vote per item."""
    ids = list(set(item_ids))
    if user_id is None or not ids:
        return {}
    column = _target(model)
    rows = db.session.execute(
        select(column, model.value).where(model.user_id == user_id, column.in_(ids))
    )
    return dict(rows.all())


def history(user_id: int, limit: int = 200) -> list[tuple[str, int, datetime, Dish | Review]]:
    """The voter's current votes on dishes and reviews, most recently changed first."""
    dish_votes = db.session.execute(
        select(DishVote.value, DishVote.updated_at, Dish)
        .join(Dish, Dish.id == DishVote.dish_id)
        .options(joinedload(Dish.restaurant))
        .where(DishVote.user_id == user_id)
        .order_by(DishVote.updated_at.desc())
        .limit(limit)
    ).all()
    review_votes = db.session.execute(
        select(ReviewVote.value, ReviewVote.updated_at, Review)
        .join(Review, Review.id == ReviewVote.review_id)
        .options(joinedload(Review.restaurant))
        .where(ReviewVote.user_id == user_id)
        .order_by(ReviewVote.updated_at.desc())
        .limit(limit)
    ).all()
    merged = [("dish", v, at, d) for v, at, d in dish_votes] + [
        ("review", v, at, r) for v, at, r in review_votes
    ]
    return sorted(merged, key=lambda row: row[2], reverse=True)[:limit]
