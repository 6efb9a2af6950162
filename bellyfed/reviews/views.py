"""Write, edit and delete reviews (one's own only), and comment on them."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select

from bellyfed.analytics.events import record
from bellyfed.dishes.models import Dish
from bellyfed.extensions import db
from bellyfed.photos.services import PhotoRejected, PhotoStorageUnavailable
from bellyfed.restaurants.models import Restaurant
from bellyfed.reviews import bp, services
from bellyfed.reviews.forms import CommentForm, ReviewForm
from bellyfed.reviews.models import Comment, Review


def _restaurant_or_404(slug: str) -> Restaurant:
    restaurant = db.session.scalar(
        select(Restaurant).where(Restaurant.slug == slug, Restaurant.is_active)
    )
    if restaurant is None:
        abort(404, description="We couldn't find that restaurant.")
    return restaurant


def _own(item: Review | Comment | None, what: str) -> Review | Comment:
    """The item if it exists and belongs to the diner: 404 if missing, 403 if someone else's."""
    if item is None:
        abort(404, description=f"We couldn't find that {what}.")
    if item.user_id != current_user.id:
        abort(403, description=f"You can only change your own {what}s.")
    return item


def _dish_choices(form: ReviewForm, restaurant: Restaurant) -> None:
    dishes = db.session.execute(
        select(Dish.id, Dish.name).where(Dish.restaurant_id == restaurant.id).order_by(Dish.name)
    ).all()
    form.dish_id.choices = [("", "— none —")] + [(str(i), name) for i, name in dishes]


def _save(
    form: ReviewForm, restaurant: Restaurant, review: Review | None
) -> ResponseReturnValue | None:
    """Write the review; None when the form must be shown again with errors."""
    fields = {
        "rating": int(form.rating.data),
        "body": form.body.data,
        "title": form.title.data or "",
        "visited_on": form.visited_on.data,
        "dish_id": int(form.dish_id.data) if form.dish_id.data else None,
        "uploads": form.new_photos.data,
    }
    is_new = review is None
    try:
        if review is None:
            review = services.write_review(
                user_id=current_user.id, restaurant_id=restaurant.id, **fields
            )
        else:
            services.edit_review(review, remove_photo_ids=form.remove_photos.data or [], **fields)
        db.session.commit()
    except (services.TooManyPhotos, PhotoRejected, PhotoStorageUnavailable) as exc:
        db.session.rollback()
        form.new_photos.errors = [*form.new_photos.errors, str(exc)]
        return None
    if is_new:
        record("metric", "reviews")
    flash("Thanks! Your review is up.", "success")
    # Newest first, so a review with no helpful votes yet is on the page the diner lands on.
    target = url_for("restaurants.detail", slug=restaurant.slug, reviews="newest")
    return redirect(f"{target}#review-{review.id}")


@bp.route("/restaurants/<slug>/reviews/new", methods=["GET", "POST"])
@login_required
def create(slug: str) -> ResponseReturnValue:
    """Review a restaurant."""
    restaurant = _restaurant_or_404(slug)
    form = ReviewForm()
    _dish_choices(form, restaurant)
    if form.validate_on_submit() and (done := _save(form, restaurant, None)) is not None:
        return done
    status = 422 if form.is_submitted() else 200
    return render_template(
        "reviews/form.html", form=form, restaurant=restaurant, review=None
    ), status


@bp.route("/reviews/<int:review_id>/edit", methods=["GET", "POST"])
@login_required
def edit(review_id: int) -> ResponseReturnValue:
    """Edit my review."""
    review = _own(db.session.get(Review, review_id), "review")
    form = ReviewForm(obj=review)
    _dish_choices(form, review.restaurant)
    form.remove_photos.choices = [(p.id, f"Photo {n}") for n, p in enumerate(review.photos, 1)]
    if not form.is_submitted():
        form.rating.data = str(review.rating)
        form.dish_id.data = str(review.dish_id) if review.dish_id else ""
    elif form.validate_on_submit() and (done := _save(form, review.restaurant, review)) is not None:
        return done
    status = 422 if form.is_submitted() else 200
    return render_template(
        "reviews/form.html", form=form, restaurant=review.restaurant, review=review
    ), status


@bp.post("/reviews/<int:review_id>/delete")
@login_required
def delete(review_id: int) -> ResponseReturnValue:
    """Delete my review."""
    review = _own(db.session.get(Review, review_id), "review")
    slug = review.restaurant.slug
    services.delete_review(review)
    db.session.commit()
    flash("Your review was deleted.", "success")
    return redirect(url_for("restaurants.detail", slug=slug))


@bp.post("/reviews/<int:review_id>/comments")
@login_required
def comment(review_id: int) -> ResponseReturnValue:
    """Reply under a review."""
    review = db.session.get(Review, review_id)
    if review is None:
        abort(404, description="We couldn't find that review.")
    form = CommentForm()
    if form.validate_on_submit():
        services.add_comment(review, current_user.id, form.body.data)
        db.session.commit()
        flash("Comment posted.", "success")
    else:
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
    return redirect(
        url_for("restaurants.detail", slug=review.restaurant.slug, _anchor=f"review-{review.id}")
    )


@bp.route("/comments/<int:comment_id>/edit", methods=["GET", "POST"])
@login_required
def edit_comment(comment_id: int) -> ResponseReturnValue:
    """Edit my comment."""
    item = _own(db.session.get(Comment, comment_id), "comment")
    form = CommentForm(obj=item)
    if form.validate_on_submit():
        item.body = form.body.data.strip()
        db.session.commit()
        flash("Comment updated.", "success")
        slug = item.review.restaurant.slug
        return redirect(
            url_for("restaurants.detail", slug=slug, _anchor=f"review-{item.review_id}")
        )
    status = 422 if form.is_submitted() else 200
    return render_template("reviews/comment_form.html", form=form, comment=item), status


@bp.post("/comments/<int:comment_id>/delete")
@login_required
def delete_comment(comment_id: int) -> ResponseReturnValue:
    """Delete my comment."""
    item = _own(db.session.get(Comment, comment_id), "comment")
    slug, review_id = item.review.restaurant.slug, item.review_id
    db.session.delete(item)
    db.session.commit()
    flash("Comment deleted.", "success")
    return redirect(url_for("restaurants.detail", slug=slug, _anchor=f"review-{review_id}"))
