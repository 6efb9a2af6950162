"""Votes: like/dislike a dish, mark a review helpful or not, and list my votes.

The web buttons toggle (the same vote twice clears it); an API needs requests that can be retried,
so here PUT sets the vote and DELETE clears it, both idempotent, on the web's ``toggle`` service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, url_for
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from bellyfed.api.auth import SECURITY, caller_user, token_required
from bellyfed.api.reviews import RestaurantLinkSchema
from bellyfed.api.schemas import Blueprint, doc, errors
from bellyfed.dishes.models import Dish
from bellyfed.extensions import db
from bellyfed.restaurants.models import Restaurant
from bellyfed.reviews.models import Review
from bellyfed.votes import services
from bellyfed.votes.models import DishVote, ReviewVote

blp = Blueprint(
    "api_votes", __name__, description="Votes: like dishes, rate reviews helpful, list my votes."
)
VALUES = (1, -1)


class VoteArgs(Schema):
    value = fields.Integer(required=True, strict=True, metadata=doc(
        "1: like the dish / the review is helpful; -1: dislike / not helpful."),
        validate=validate.OneOf(VALUES, error="Vote 1 or -1."))  # fmt: skip


class VoteSchema(Schema):
    kind = fields.String(required=True, metadata=doc("dish or review."))
    id = fields.Integer(required=True)
    vote = fields.Integer(required=True, metadata=doc("My vote: 1 or -1."))
    up = fields.Integer(required=True, metadata=doc("Likes (dish) or helpful votes (review)."))
    down = fields.Integer(required=True, metadata=doc("Dislikes or not-helpful votes."))


class MyVoteSchema(Schema):
    kind = fields.String(required=True, metadata=doc("dish or review."))
    id = fields.Integer(required=True)
    value = fields.Integer(required=True)
    updated_at = fields.DateTime(required=True)
    name = fields.String(required=True, metadata=doc("The dish's name or the review's title."))
    restaurant = fields.Nested(RestaurantLinkSchema, required=True)
    url = fields.String(required=True, metadata=doc("API URL of the dish or review."))


class MyVotesSchema(Schema):
    items = fields.List(fields.Nested(MyVoteSchema), required=True,
                        metadata=doc("Most recently changed first, at most 200."))  # fmt: skip


def set_vote(model: services.VoteModel, user_id: int, item_id: int, wanted: int | None) -> None:
    """Make the user's vote ``wanted`` (None: no vote) with the web's toggle, idempotently."""
    current = services.mine(model, user_id, [item_id]).get(item_id)
    for _ in range(2):  # twice: a concurrent change between the read and the toggle
        if current == wanted:
            return
        current = services.toggle(model, user_id, item_id, wanted or current)


def _dish(dish_id: int) -> Dish:
    dish = db.session.get(Dish, dish_id)
    if dish is None or not dish.restaurant.is_active:
        abort(404, description=f"There's no dish {dish_id}.")
    return dish


def _review(review_id: int) -> Review:
    review = db.session.get(Review, review_id)
    if review is None or not review.restaurant.is_active:
        abort(404, description=f"There's no review {review_id}.")
    return review


def _state(model: services.VoteModel, kind: str, item_id: int, vote: int) -> dict[str, Any]:
    up, down = services.counts(model, [item_id]).get(item_id, (0, 0))
    return {"kind": kind, "id": item_id, "vote": vote, "up": up, "down": down}


# One rule per path for PUT and DELETE: a too-large id is then a 404 for both methods (with a rule
# per method Werkzeug answers 405 for the methods of the rules it did not try).
@blp.route("/dishes/<int:dish_id>/vote", endpoint="dish_vote")
class DishVoteResource(MethodView):
    @errors(blp, 400, 401, 404, 422)
    @blp.arguments(VoteArgs, as_kwargs=True)
    @blp.response(200, VoteSchema)
    @blp.doc(security=SECURITY)
    @token_required
    def put(self, dish_id: int, value: int) -> dict[str, Any]:
        """Like (1) or dislike (-1) a dish; sending the same vote again keeps it."""
        _dish(dish_id)
        set_vote(DishVote, caller_user().id, dish_id, value)
        db.session.commit()
        return _state(DishVote, "dish", dish_id, value)

    @errors(blp, 401, 404)
    @blp.response(204)
    @blp.doc(security=SECURITY)
    @token_required
    def delete(self, dish_id: int) -> None:
        """Take back my vote on a dish (fine if there was none)."""
        _dish(dish_id)
        set_vote(DishVote, caller_user().id, dish_id, None)
        db.session.commit()


@blp.route("/reviews/<int:review_id>/vote", endpoint="review_vote")
class ReviewVoteResource(MethodView):
    @errors(blp, 400, 401, 403, 404, 422)
    @blp.arguments(VoteArgs, as_kwargs=True)
    @blp.response(200, VoteSchema)
    @blp.doc(security=SECURITY)
    @token_required
    def put(self, review_id: int, value: int) -> dict[str, Any]:
        """Mark a review helpful (1) or not (-1), not your own; the same vote again keeps it."""
        if _review(review_id).user_id == caller_user().id:
            abort(403, description="You can't vote on your own review.")
        set_vote(ReviewVote, caller_user().id, review_id, value)
        db.session.commit()
        return _state(ReviewVote, "review", review_id, value)

    @errors(blp, 401, 404)
    @blp.response(204)
    @blp.doc(security=SECURITY)
    @token_required
    def delete(self, review_id: int) -> None:
        """Take back my vote on a review (fine if there was none)."""
        _review(review_id)
        set_vote(ReviewVote, caller_user().id, review_id, None)
        db.session.commit()


@blp.get("/me/votes")
@errors(blp, 401)
@blp.response(200, MyVotesSchema)
@blp.doc(security=SECURITY)
@token_required
def mine() -> dict[str, Any]:
    """Everything I have voted on, as on my votes page (never cached: it is yours)."""
    return {"items": [_history_row(*row) for row in services.history(caller_user().id)]}


def _history_row(kind: str, value: int, at: datetime, item: Dish | Review) -> dict[str, Any]:
    restaurant: Restaurant = item.restaurant
    return {
        "kind": kind, "id": item.id, "value": value, "updated_at": at,
        "name": item.name if isinstance(item, Dish) else item.title,
        "restaurant": {"slug": restaurant.slug, "name": restaurant.name,
                       "url": url_for("api_restaurants.detail", slug=restaurant.slug,
                                      _external=True)},
        "url": url_for("api_reviews.review", review_id=item.id, _external=True)
        if kind == "review" else url_for("api_catalog.dish", dish_id=item.id, _external=True),
    }  # fmt: skip
