"""Writing, editing and deleting reviews and comments. Callers check ownership and commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from flask import current_app
from werkzeug.datastructures import FileStorage

from bellyfed.extensions import db
from bellyfed.photos.services import delete_photo, is_empty_upload, save_upload
from bellyfed.restaurants.stats import refresh_restaurant_stats
from bellyfed.reviews.models import Comment, Review


class TooManyPhotos(ValueError):
    """More photos than a review may carry; the message is for the diner."""


def _real(uploads: Sequence[FileStorage] | None) -> list[FileStorage]:
    return [u for u in uploads or [] if not is_empty_upload(u)]


def check_photo_count(
    existing: int, uploads: Sequence[FileStorage] | None, removing: int = 0
) -> None:
    """Refuse before anything is stored when the review would exceed REVIEW_MAX_PHOTOS."""
    limit = current_app.config["REVIEW_MAX_PHOTOS"]
    if existing - removing + len(_real(uploads)) > limit:
        raise TooManyPhotos(f"A review can have up to {limit} photos.")


def write_review(*, user_id: int, restaurant_id: int, rating: int, body: str, title: str = "",
                 visited_on: date | None = None, dish_id: int | None = None,
                 uploads: Sequence[FileStorage] | None = None) -> Review:  # fmt: skip
    """A new review with its photos (PhotoRejected / PhotoStorageUnavailable propagate)."""
    check_photo_count(0, uploads)
    review = Review(user_id=user_id, restaurant_id=restaurant_id, rating=rating, body=body.strip(),
                    title=title.strip(), visited_on=visited_on, dish_id=dish_id)  # fmt: skip
    db.session.add(review)
    db.session.flush()
    for position, upload in enumerate(_real(uploads)):
        save_upload(upload, uploader_id=user_id, review_id=review.id, position=position)
    refresh_restaurant_stats([restaurant_id])
    return review


def edit_review(review: Review, *, rating: int, body: str, title: str, visited_on: date | None,
                dish_id: int | None, uploads: Sequence[FileStorage] | None = None,
                remove_photo_ids: Sequence[int] = ()) -> Review:  # fmt: skip
    """Change a review; add photos and remove the chosen ones."""
    removing = [p for p in review.photos if p.id in set(remove_photo_ids)]
    check_photo_count(len(review.photos), uploads, len(removing))
    review.rating, review.body, review.title = rating, body.strip(), title.strip()
    review.visited_on, review.dish_id = visited_on, dish_id
    for photo in removing:
        delete_photo(photo)
    start = max((p.position for p in review.photos if p not in removing), default=-1) + 1
    for offset, upload in enumerate(_real(uploads)):
        save_upload(
            upload, uploader_id=review.user_id, review_id=review.id, position=start + offset
        )
    db.session.flush()
    db.session.expire(review, ["photos"])
    refresh_restaurant_stats([review.restaurant_id])
    return review


def delete_review(review: Review) -> None:
    """Delete a review, its photos (bytes too) and comments."""
    restaurant_id = review.restaurant_id
    for photo in list(review.photos):
        delete_photo(photo)
    db.session.delete(review)
    db.session.flush()
    refresh_restaurant_stats([restaurant_id])


def add_comment(review: Review, user_id: int, body: str) -> Comment:
    """A reply under a review."""
    comment = Comment(review_id=review.id, user_id=user_id, body=body.strip())
    db.session.add(comment)
    db.session.flush()
    return comment
