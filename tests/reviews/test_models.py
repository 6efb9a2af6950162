"""Review, comment and photo constraints."""

import pytest
from sqlalchemy import text

from tests.factories import CommentFactory, PhotoFactory, RankingFactory, ReviewFactory, UserFactory
from tests.helpers import violates


@pytest.mark.parametrize("rating", [0, 6, -3])
def test_rating_outside_one_to_five_is_refused(db_session, rating):
    with violates("ck_reviews_rating_range"):
        ReviewFactory(rating=rating)


@pytest.mark.parametrize("body", ["", "   ", "x" * 5001])
def test_review_body_must_be_present_and_bounded(db_session, body):
    with violates("ck_reviews_body_length"):
        ReviewFactory(body=body)


def test_blank_comment_is_refused(db_session):
    with violates("ck_comments_body_length"):
        CommentFactory(body=" ")


def test_deleting_a_review_deletes_its_comments_and_photos(db_session):
    comment = CommentFactory()
    photo = PhotoFactory(review_id=comment.review_id)
    db_session.execute(text("DELETE FROM reviews WHERE id = :r"), {"r": comment.review_id})
    assert (
        db_session.scalar(text("SELECT count(*) FROM comments WHERE id = :c"), {"c": comment.id})
        == 0
    )
    assert (
        db_session.scalar(text("SELECT count(*) FROM photos WHERE id = :p"), {"p": photo.id}) == 0
    )


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("content_type", "text/html", "ck_photos_content_type_image"),
        ("content_type", "image/svg+xml", "ck_photos_content_type_image"),
        ("width", 0, "ck_photos_dimensions_positive"),
        ("byte_size", 0, "ck_photos_byte_size_positive"),
        ("sha256", "not-a-digest", "ck_photos_sha256_hex"),
    ],
)
def test_bad_photo_metadata_is_refused(db_session, field, value, constraint):
    with violates(constraint):
        PhotoFactory(**{field: value})


def test_deleting_a_photo_keeps_the_ranking_and_the_avatar_owner(db_session):
    photo = PhotoFactory()
    ranking = RankingFactory(photo_id=photo.id)
    user = UserFactory(avatar_photo_id=photo.id)
    db_session.execute(text("DELETE FROM photos WHERE id = :p"), {"p": photo.id})
    db_session.expire_all()
    assert ranking.photo_id is None
    assert user.avatar_photo_id is None
