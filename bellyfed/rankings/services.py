"""Changing a diner's rankings: top-5 insertion, taste marks, removal, with history.

A diner's ranked dishes of one type always hold positions 1..n (n <= 5). Placing a dish at a
taken position moves the others down and the fifth falls off (recorded as "dropped"); removing
one closes the gap. The unique (user, dish type, position) constraint is deferred for the
transaction so positions can be rewritten in any order. Callers commit; the leaderboards follow
in the worker once they have (bellyfed/leaderboards/updates.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, text

from bellyfed.core.vocab import TASTE_STATUSES
from bellyfed.dishes.models import Dish
from bellyfed.extensions import db
from bellyfed.leaderboards.updates import recompute_after_commit
from bellyfed.rankings.models import Ranking, RankingHistory
from bellyfed.restaurants.models import Restaurant
from bellyfed.restaurants.stats import refresh_restaurant_stats

MAX_POSITION = 5


class RankingError(ValueError):
    """A ranking change that cannot be made; the message is for the diner."""


@dataclass
class Change:
    """What a ranking change did, for the message shown to the diner."""

    ranking: Ranking | None
    position: int | None = None
    dropped: list[Dish] = field(default_factory=list)
    clamped_from: int | None = None


def _lock_list(user_id: int, dish_type_id: int) -> list[Ranking]:
    """The diner's rankings of one dish type, locked against concurrent edits."""
    db.session.execute(text("SET CONSTRAINTS uq_rankings_user_id_dish_type_id_position DEFERRED"))
    return list(
        db.session.scalars(
            select(Ranking)
            .where(Ranking.user_id == user_id, Ranking.dish_type_id == dish_type_id)
            .order_by(Ranking.position.nulls_last(), Ranking.id)
            .with_for_update()
        )
    )


def _record(ranking: Ranking, action: str, *, old_position: int | None = None,
            old_status: str | None = None, gone: bool = False) -> None:  # fmt: skip
    """One history row; ``gone`` for a ranking that leaves the list (no new state)."""
    db.session.add(RankingHistory(
        user_id=ranking.user_id, dish_id=ranking.dish_id, dish_type_id=ranking.dish_type_id,
        action=action, old_position=old_position, old_taste_status=old_status,
        new_position=None if gone else ranking.position,
        new_taste_status=None if gone else ranking.taste_status,
    ))  # fmt: skip


def _renumber(ordered: list[Ranking], skip: Ranking | None = None) -> None:
    for position, ranking in enumerate(ordered, start=1):
        if ranking.position != position:
            old = ranking.position
            ranking.position = position
            if ranking is not skip:
                _record(ranking, "moved", old_position=old)


def _rankable(dish: Dish) -> int:
    if dish.dish_type_id is None:
        raise RankingError(f"{dish.name} isn't a dish type diners rank (drinks and sides aren't).")
    return dish.dish_type_id


def place(user_id: int, dish: Dish, position: int, *, notes: str | None = None,
          photo_id: int | None = None) -> Change:  # fmt: skip
    """Put ``dish`` at ``position`` (1-5) in the diner's top-5 for its dish type."""
    if not 1 <= position <= MAX_POSITION:
        raise RankingError(f"Pick a position from 1 to {MAX_POSITION}.")
    rankings = _lock_list(user_id, _rankable(dish))
    mine = next((r for r in rankings if r.dish_id == dish.id), None)
    ordered = [r for r in rankings if r.position is not None and r is not mine]
    target = min(position, len(ordered) + 1)
    change = Change(
        ranking=mine, position=target, clamped_from=position if target != position else None
    )
    if mine is None:
        mine = Ranking(
            user_id=user_id, dish_id=dish.id, dish_type_id=dish.dish_type_id, position=target
        )
        db.session.add(mine)
        change.ranking = mine
        action, old_position, old_status = "ranked", None, None
    else:
        old_position, old_status = mine.position, mine.taste_status
        action = "moved" if old_position is not None else "ranked"
        mine.taste_status = None
    if notes is not None:
        mine.notes = notes
    if photo_id is not None:
        mine.photo_id = photo_id
    ordered.insert(target - 1, mine)
    for fallen in ordered[MAX_POSITION:]:
        _record(fallen, "dropped", old_position=fallen.position, gone=True)
        change.dropped.append(fallen.dish)
        db.session.delete(fallen)
    _renumber(ordered[:MAX_POSITION], skip=mine)
    if old_position == mine.position and action == "moved":
        _record(mine, "updated", old_position=old_position)
    else:
        _record(mine, action, old_position=old_position, old_status=old_status)
    _refresh([r.dish_id for r in ordered] + [d.id for d in change.dropped])
    return change


def mark(user_id: int, dish: Dish, status: str, *, notes: str | None = None) -> Change:
    """Mark a tried dish with a taste status instead of a position (leaves the top-5)."""
    if status not in TASTE_STATUSES:
        raise RankingError("Pick one of: acceptable, second chance, dissatisfied.")
    rankings = _lock_list(user_id, _rankable(dish))
    mine = next((r for r in rankings if r.dish_id == dish.id), None)
    old_position = old_status = None
    if mine is None:
        mine = Ranking(user_id=user_id, dish_id=dish.id, dish_type_id=dish.dish_type_id)
        db.session.add(mine)
    else:
        old_position, old_status = mine.position, mine.taste_status
    mine.position, mine.taste_status = None, status
    if notes is not None:
        mine.notes = notes
    _record(mine, "status_set", old_position=old_position, old_status=old_status)
    _renumber([r for r in rankings if r.position is not None and r is not mine])
    _refresh([r.dish_id for r in rankings] + [dish.id])
    return Change(ranking=mine)


def remove(user_id: int, ranking: Ranking) -> None:
    """Take a dish out of the diner's rankings; the ones below move up."""
    rankings = _lock_list(user_id, ranking.dish_type_id)
    _record(ranking, "removed", old_position=ranking.position, old_status=ranking.taste_status,
            gone=True)  # fmt: skip
    db.session.delete(ranking)
    _renumber([r for r in rankings if r.position is not None and r is not ranking])
    _refresh([r.dish_id for r in rankings])


def move(user_id: int, ranking: Ranking, step: int) -> Change:
    """Move a ranked dish one place up (step -1) or down (+1)."""
    if ranking.position is None:
        raise RankingError("Only ranked dishes can be moved.")
    ranked = [r for r in _lock_list(user_id, ranking.dish_type_id) if r.position is not None]
    count = len(ranked)
    target = ranking.position + step
    if not 1 <= target <= count:
        raise RankingError("It can't move further that way.")
    return place(user_id, ranking.dish, target)


def _refresh(dish_ids: list[int]) -> None:
    """Restaurant aggregates follow every change in its transaction; its boards after commit."""
    db.session.flush()
    ids = sorted(set(dish_ids))
    if not ids:
        return
    rows = db.session.execute(
        select(Dish.dish_type_id, Restaurant.city_id, Dish.restaurant_id)
        .join(Restaurant, Restaurant.id == Dish.restaurant_id)
        .where(Dish.id.in_(ids), Dish.dish_type_id.is_not(None))
    ).all()
    # A large board's recompute is too slow for a request (0.2-0.5 s at 1.4M rankings).
    recompute_after_commit({(type_id, city_id) for type_id, city_id, _ in rows})
    refresh_restaurant_stats(restaurant_id for _, _, restaurant_id in rows)
