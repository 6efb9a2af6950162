"""What a dish card needs besides the dish: vote counts, my vote, my ranking (3 queries)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_login import current_user

from bellyfed.rankings.forms import CHOICES
from bellyfed.rankings.queries import my_rankings_for
from bellyfed.votes import services as votes
from bellyfed.votes.models import DishVote


def dish_card_context(dish_ids: Iterable[int]) -> dict[str, Any]:
    """Template context for ``dishes/_dish_actions.html`` over many dishes at once."""
    ids = list(dict.fromkeys(dish_ids))
    user_id = current_user.id if current_user.is_authenticated else None
    return {
        "dish_votes": votes.counts(DishVote, ids),
        "my_dish_votes": votes.mine(DishVote, user_id, ids),
        "my_rankings": my_rankings_for(user_id, ids),
        "rank_choices": CHOICES,
    }
