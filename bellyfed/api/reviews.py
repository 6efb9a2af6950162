"""Reviews: a restaurant's reviews as its page lists them, one review, and a diner's own writes.

Writes go through ``reviews/services.py`` like the web form (which refreshes the restaurant's
rating and review count and marks cached answers stale) and commit here, as the web views do.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, url_for
from flask.views import MethodView
from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.datastructures import FileStorage

from bellyfed.analytics.events import record
from bellyfed.api.auth import SECURITY, caller_user, token_required
from bellyfed.api.cache import cached
from bellyfed.api.photos import NO_FILE, upload_problems
from bellyfed.api.schemas import (
    Blueprint,
    DishLinkSchema,
    RestaurantLinkSchema,
    doc,
    errors,
    plain_text,
)
from bellyfed.dishes.models import Dish
from bellyfed.extensions import db
from bellyfed.photos.models import Photo
from bellyfed.photos.services import is_empty_upload
from bellyfed.restaurants.models import Restaurant
from bellyfed.restaurants.views import REVIEWS_PER_PAGE
from bellyfed.reviews import services
from bellyfed.reviews.models import Review
from bellyfed.reviews.queries import SORTS, reviews_for
from bellyfed.votes import services as votes
from bellyfed.votes.models import ReviewVote

blp = Blueprint(
    "api_reviews", __name__, description="Reviews: read a restaurant's, write your own, add photos."
)
MAX_PAGE = 1000  # as the restaurant page
BIGINT_MAX = 2**63 - 1
NOT_YOURS = "You can only change your own reviews."


def _some_words(value: str) -> None:
    plain_text(value)
    if not value.strip():
        raise ValidationError("Write a few words about your visit.")


def _not_in_future(value: date | None) -> None:
    if value is not None and value > date.today():
        raise ValidationError("The visit can't be in the future.")


class ReviewListArgs(Schema):
    sort = fields.String(load_default="helpful", metadata=doc("helpful (default) or newest."),
                         validate=validate.OneOf(SORTS, error="Reviews can be sorted by "
                                                 "“helpful” or “newest”."))  # fmt: skip
    page = fields.Integer(load_default=1, metadata=doc(f"{REVIEWS_PER_PAGE} reviews a page."),
                          validate=validate.Range(1, MAX_PAGE, error="Review pages are numbered "
                                                  f"from 1 to {MAX_PAGE}."))  # fmt: skip


class ReviewChangeArgs(Schema):
    """The fields of a review, all optional: a PATCH changes only those sent."""

    rating = fields.Integer(
        strict=True, validate=validate.Range(1, 5), metadata=doc("1 to 5 stars.")
    )
    title = fields.String(validate=[validate.Length(max=120), plain_text])
    body = fields.String(validate=[validate.Length(min=1, max=5000), _some_words])
    visited_on = fields.Date(allow_none=True, validate=_not_in_future,
                             metadata=doc("ISO date of the visit, not in the future."))  # fmt: skip
    dish_id = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, BIGINT_MAX),
                             metadata=doc("A dish of this restaurant it is about."))  # fmt: skip


class ReviewArgs(ReviewChangeArgs):
    rating = fields.Integer(required=True, strict=True, validate=validate.Range(1, 5),
                            metadata=doc("1 to 5 stars."))  # fmt: skip
    body = fields.String(required=True, validate=[validate.Length(min=1, max=5000), _some_words])


class PhotoUploadArgs(Schema):
    photo = Upload(required=True, metadata=doc("A still JPEG, PNG or WebP photo."))


class ReviewAuthorSchema(Schema):
    username = fields.String(required=True)
    display_name = fields.String(required=True)


class ReviewPhotoSchema(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    thumbnail_url = fields.String(required=True)
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    alt_text = fields.String(required=True)


class HelpfulSchema(Schema):
    up = fields.Integer(required=True, metadata=doc("Diners who found it helpful."))
    down = fields.Integer(required=True, metadata=doc("Diners who did not."))


class ReviewSchema(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    restaurant = fields.Nested(RestaurantLinkSchema, required=True)
    author = fields.Nested(ReviewAuthorSchema, required=True)
    rating = fields.Integer(required=True)
    title = fields.String(required=True)
    body = fields.String(required=True)
    visited_on = fields.Date(required=True, allow_none=True)
    dish = fields.Nested(DishLinkSchema, required=True, allow_none=True)
    photos = fields.List(fields.Nested(ReviewPhotoSchema), required=True)
    helpful = fields.Nested(HelpfulSchema, required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class ReviewPageSchema(Schema):
    items = fields.List(fields.Nested(ReviewSchema), required=True)
    page = fields.Integer(required=True)
    pages = fields.Integer(required=True)
    total = fields.Integer(required=True)
    next = fields.String(required=True, allow_none=True, metadata=doc("URL of the next page."))


def present(reviews: list[Review]) -> list[dict[str, Any]]:
    """Reviews as the API shows them, with helpful votes and dish names in one query each."""
    helpful = votes.counts(ReviewVote, [r.id for r in reviews])
    dish_ids = {r.dish_id for r in reviews if r.dish_id is not None}
    dishes = dict(db.session.execute(select(Dish.id, Dish.name).where(Dish.id.in_(dish_ids))).all()
                  if dish_ids else [])  # fmt: skip
    return [_review(r, helpful.get(r.id, (0, 0)), dishes) for r in reviews]


def _review(review: Review, helpful: tuple[int, int], dishes: dict[int, str]) -> dict[str, Any]:
    restaurant = review.restaurant
    return {
        "id": review.id,
        "url": url_for("api_reviews.review", review_id=review.id, _external=True),
        "restaurant": {"slug": restaurant.slug, "name": restaurant.name,
                       "url": url_for("api_restaurants.detail", slug=restaurant.slug,
                                      _external=True)},
        "author": review.author, "rating": review.rating, "title": review.title,
        "body": review.body, "visited_on": review.visited_on,
        "dish": {"id": review.dish_id, "name": dishes[review.dish_id],
                 "url": url_for("api_catalog.dish", dish_id=review.dish_id, _external=True)}
        if review.dish_id in dishes else None,
        "photos": [_photo(p) for p in review.photos],
        "helpful": {"up": helpful[0], "down": helpful[1]},
        "created_at": review.created_at, "updated_at": review.updated_at,
    }  # fmt: skip


def _photo(photo: Photo) -> dict[str, Any]:
    return {
        "id": photo.id, "width": photo.width, "height": photo.height, "alt_text": photo.alt_text,
        "url": url_for("photos.show", photo_id=photo.id, _external=True),
        "thumbnail_url": url_for("photos.thumbnail", photo_id=photo.id, _external=True),
    }  # fmt: skip


def _restaurant_or_404(slug: str) -> Restaurant:
    restaurant = db.session.scalar(
        select(Restaurant).where(Restaurant.slug == slug, Restaurant.is_active)
    )
    if restaurant is None:
        abort(404, description=f"There's no restaurant “{slug}” (it may have closed or moved).")
    return restaurant


def _own_review(review_id: int, *, lock: bool = False) -> Review:
    """The caller's review: 404 if there is none, 403 if it is someone else's."""
    review = db.session.get(Review, review_id, with_for_update=lock or None)
    if review is None:
        abort(404, description=f"There's no review {review_id}.")
    if review.user_id != caller_user().id:
        abort(403, description=NOT_YOURS)
    return review


def _check_dish(dish_id: int | None, restaurant: Restaurant) -> None:
    if dish_id is not None and db.session.scalar(
        select(Dish.id).where(Dish.id == dish_id, Dish.restaurant_id == restaurant.id)
    ) is None:  # fmt: skip
        abort(422, description=f"Dish {dish_id} isn't on the menu of {restaurant.name}.")


def _created(review: Review, location: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    db.session.refresh(review)
    return present([review])[0], 201, {"Location": location}


@blp.get("/restaurants/<slug>/reviews")
@errors(blp, 304, 400, 404)
@cached()
@blp.arguments(ReviewListArgs, location="query", as_kwargs=True)
@blp.response(200, ReviewPageSchema)
def listing(slug: str, sort: str, page: int) -> dict[str, Any]:
    """A restaurant's reviews, in the restaurant page's order and pages (most helpful first)."""
    restaurant = _restaurant_or_404(slug)
    reviews = reviews_for(restaurant.id, sort, REVIEWS_PER_PAGE, (page - 1) * REVIEWS_PER_PAGE)
    pages = max(1, -(-restaurant.review_count // REVIEWS_PER_PAGE))
    return {
        "items": present(reviews), "page": page, "pages": pages,
        "total": restaurant.review_count,
        "next": url_for(".listing", slug=slug, sort=sort, page=page + 1, _external=True)
        if page < min(pages, MAX_PAGE) else None,
    }  # fmt: skip


@blp.post("/restaurants/<slug>/reviews")
@errors(blp, 400, 401, 404, 422)
@blp.arguments(ReviewArgs, as_kwargs=True)
@blp.response(201, ReviewSchema)
@blp.doc(security=SECURITY)
@token_required
def create(slug: str, **fields_: Any) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Review a restaurant (add photos afterwards, one at a time)."""
    restaurant = _restaurant_or_404(slug)
    _check_dish(fields_.get("dish_id"), restaurant)
    written = services.write_review(
        user_id=caller_user().id, restaurant_id=restaurant.id, rating=fields_["rating"],
        body=fields_["body"], title=fields_.get("title", ""),
        visited_on=fields_.get("visited_on"), dish_id=fields_.get("dish_id"),
    )  # fmt: skip
    db.session.commit()
    record("metric", "reviews")
    location = url_for(".review", review_id=written.id, _external=True)
    return _created(written, location)


# One rule for all three methods: a too-large id then fails as a 404 whatever the method (with a
# rule per method Werkzeug answers 405 for the methods of the rules it did not try).
@blp.route("/reviews/<int:review_id>", endpoint="review")
class ReviewResource(MethodView):
    @errors(blp, 304, 404)
    @cached()
    @blp.response(200, ReviewSchema)
    def get(self, review_id: int) -> dict[str, Any]:
        """One review (of a restaurant that is listed)."""
        found = db.session.scalar(
            select(Review).join(Review.restaurant)
            .where(Review.id == review_id, Restaurant.is_active)
            .options(joinedload(Review.author), joinedload(Review.restaurant),
                     selectinload(Review.photos))
        )  # fmt: skip
        if found is None:
            abort(404, description=f"There's no review {review_id}.")
        return present([found])[0]

    @errors(blp, 400, 401, 403, 404, 409, 422)
    @blp.arguments(ReviewChangeArgs, as_kwargs=True)
    @blp.response(200, ReviewSchema)
    @blp.doc(security=SECURITY)
    @token_required
    def patch(self, review_id: int, **changes: Any) -> dict[str, Any]:
        """Change my review: only the fields sent (null clears visited_on or dish_id)."""
        mine = _own_review(review_id)
        if not changes:
            abort(422, description="Send one or more of: rating, title, body, visited_on, dish_id.")
        if "dish_id" in changes:
            _check_dish(changes["dish_id"], mine.restaurant)
        current = {"rating": mine.rating, "title": mine.title, "body": mine.body,
                   "visited_on": mine.visited_on, "dish_id": mine.dish_id}  # fmt: skip
        try:
            services.edit_review(mine, **{**current, **changes})
        except services.TooManyPhotos as exc:  # the photo limit was lowered since
            db.session.rollback()
            abort(409, description=f"{exc} Remove photos on the website first.")
        db.session.commit()
        db.session.refresh(mine)
        return present([mine])[0]

    @errors(blp, 401, 403, 404)
    @blp.response(204)
    @blp.doc(security=SECURITY)
    @token_required
    def delete(self, review_id: int) -> None:
        """Delete my review, with its photos and comments."""
        services.delete_review(_own_review(review_id))
        db.session.commit()


@blp.post("/reviews/<int:review_id>/photos")
@errors(blp, 401, 403, 404, 409, 413, 422)
@blp.arguments(PhotoUploadArgs, location="files", as_kwargs=True)
@blp.response(201, ReviewSchema)
@blp.doc(security=SECURITY)
@token_required
def add_photo(review_id: int, photo: FileStorage) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Add a photo to my review (multipart/form-data, field ``photo``); answers the review."""
    mine = _own_review(review_id, lock=True)  # concurrent uploads can't pass the limit together
    if is_empty_upload(photo):
        abort(422, description=NO_FILE)
    with upload_problems():
        services.edit_review(mine, rating=mine.rating, title=mine.title, body=mine.body,
                             visited_on=mine.visited_on, dish_id=mine.dish_id,
                             uploads=[photo])  # fmt: skip
    db.session.commit()
    location = url_for("photos.show", photo_id=mine.photos[-1].id, _external=True)
    return _created(mine, location)
