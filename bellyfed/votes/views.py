"""Like/dislike on dishes, helpful on reviews, toggled in place; my voting history."""

from __future__ import annotations

from flask import abort, make_response, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from bellyfed.core.htmx import is_htmx
from bellyfed.core.urls import safe_next
from bellyfed.dishes.models import Dish
from bellyfed.extensions import db
from bellyfed.reviews.models import Review
from bellyfed.votes import bp, services
from bellyfed.votes.models import DishVote, ReviewVote

DISH_VALUES = {"like": 1, "dislike": -1}
REVIEW_VALUES = {"helpful": 1, "not_helpful": -1}


def _value(allowed: dict[str, int]) -> int:
    value = allowed.get(request.form.get("value", ""))
    if value is None:
        abort(400, description=f"Vote with one of: {', '.join(allowed)}.")
    return value


@bp.post("/dishes/<int:dish_id>/vote")
@login_required
def vote_dish(dish_id: int) -> ResponseReturnValue:
    """Like or dislike a dish; the same vote again clears it."""
    dish = db.session.get(Dish, dish_id)
    if dish is None or not dish.restaurant.is_active:
        abort(404, description="We couldn't find that dish.")
    services.toggle(DishVote, current_user.id, dish_id, _value(DISH_VALUES))
    db.session.commit()
    return _answer(
        "votes/_dish_vote.html", dish=dish, dish_votes=services.counts(DishVote, [dish_id]),
        my_dish_votes=services.mine(DishVote, current_user.id, [dish_id]),
    )  # fmt: skip


@bp.post("/reviews/<int:review_id>/vote")
@login_required
def vote_review(review_id: int) -> ResponseReturnValue:
    """Mark a review helpful or not; the same vote again clears it. Not on your own review."""
    review = db.session.get(Review, review_id)
    if review is None or not review.restaurant.is_active:
        abort(404, description="We couldn't find that review.")
    if review.user_id == current_user.id:
        abort(403, description="You can't vote on your own review.")
    services.toggle(ReviewVote, current_user.id, review_id, _value(REVIEW_VALUES))
    db.session.commit()
    return _answer(
        "votes/_review_vote.html", review=review,
        review_votes=services.counts(ReviewVote, [review_id]),
        my_review_votes=services.mine(ReviewVote, current_user.id, [review_id]),
    )  # fmt: skip


def _answer(widget: str, **context: object) -> ResponseReturnValue:
    """HTMX swaps the vote widget in place; without JavaScript, back to the page voted from."""
    if not is_htmx():
        return redirect(safe_next(request.form.get("next")))
    response = make_response(render_template(widget, **context))
    response.vary.add("HX-Request")
    return response


@bp.get("/me/votes")
@login_required
def mine() -> ResponseReturnValue:
    """Everything I have voted on."""
    return render_template("votes/mine.html", rows=services.history(current_user.id))
