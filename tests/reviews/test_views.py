"""Reviews over HTTP: write with photos, edit and delete one's own only, comments, Wilson order."""

import io

import pytest
from sqlalchemy import func, select

from bellyfed.photos.models import Photo
from bellyfed.reviews.models import Comment, Review
from tests.factories import (
    CommentFactory,
    RestaurantFactory,
    ReviewFactory,
    ReviewVoteFactory,
    UserFactory,
)
from tests.photos.images import plain_jpeg
from tests.web import log_in, post, text


@pytest.fixture
def diner(browser, db_session):
    user = UserFactory()
    log_in(browser, user.username)
    return user


def jpeg(name="plate.jpg"):
    return (io.BytesIO(plain_jpeg((400, 300))), name)


def write(browser, restaurant, **overrides):
    data = {
        "rating": "5",
        "title": "Worth the queue",
        "body": "Crispy anchovies, proper sambal.",
        "dish_id": "",
    }
    data.update(overrides)
    return post(
        browser,
        f"/restaurants/{restaurant.slug}/reviews/new",
        data,
        content_type="multipart/form-data",
    )


def test_write_a_review_with_photos(browser, diner, db_session):
    restaurant = RestaurantFactory()
    response = write(browser, restaurant, new_photos=[jpeg("a.jpg"), jpeg("b.jpg")])
    assert response.status_code == 302
    review = db_session.scalar(select(Review).where(Review.user_id == diner.id))
    assert (review.rating, review.title) == (5, "Worth the queue")
    assert (
        db_session.scalar(
            select(func.count()).select_from(Photo).where(Photo.review_id == review.id)
        )
        == 2
    )
    page = text(browser.get(f"/restaurants/{restaurant.slug}"))
    assert "Worth the queue" in page
    assert "/photos/" in page
    db_session.expire_all()
    assert db_session.get(type(restaurant), restaurant.id).review_count == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rating": ""}, "Choose a rating"),
        ({"rating": "6"}, "Not a valid choice"),
        ({"body": "   "}, "Write a few words"),
        ({"body": "x" * 5001}, "5000"),
        ({"visited_on": "2999-01-01"}, "can&#39;t be in the future"),
        ({"visited_on": "yesterday"}, "Not a valid date"),
    ],
)
def test_bad_reviews_are_refused_with_a_message(browser, diner, db_session, overrides, message):
    restaurant = RestaurantFactory()
    response = write(browser, restaurant, **overrides)
    assert response.status_code == 422
    assert message in text(response)
    assert db_session.scalar(select(Review).where(Review.user_id == diner.id)) is None


def test_too_many_or_non_image_photos_are_refused_and_nothing_is_kept(browser, diner, db_session):
    restaurant = RestaurantFactory()
    too_many = write(browser, restaurant, new_photos=[jpeg(f"{n}.jpg") for n in range(5)])
    assert too_many.status_code == 422
    assert "up to 4 photos" in text(too_many)
    disguised = write(
        browser, restaurant, new_photos=[(io.BytesIO(b"<svg onload=alert(1)>"), "cat.jpg")]
    )
    assert disguised.status_code == 422
    assert db_session.scalar(select(func.count()).select_from(Review)) == 0
    assert db_session.scalar(select(func.count()).select_from(Photo)) == 0


def test_edit_own_review_and_remove_a_photo(browser, diner, db_session):
    restaurant = RestaurantFactory()
    write(browser, restaurant, new_photos=[jpeg()])
    review = db_session.scalar(select(Review).where(Review.user_id == diner.id))
    photo_id = review.photos[0].id
    response = post(browser, f"/reviews/{review.id}/edit",
                    {"rating": "3", "title": "Slipped a bit", "body": "Smaller portion now.", "dish_id": "",
                     "remove_photos": str(photo_id)}, content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 302
    db_session.expire_all()
    review = db_session.get(Review, review.id)
    assert (review.rating, review.title) == (3, "Slipped a bit")
    assert review.photos == []


def test_someone_elses_review_cannot_be_edited_or_deleted(browser, diner, db_session):
    theirs = ReviewFactory(body="Mine, not yours", rating=4)
    edit = post(browser, f"/reviews/{theirs.id}/edit", {"rating": "1", "body": "hacked"})
    delete = post(browser, f"/reviews/{theirs.id}/delete")
    assert (edit.status_code, delete.status_code) == (403, 403)
    db_session.expire_all()
    review = db_session.get(Review, theirs.id)
    assert (review.body, review.rating) == ("Mine, not yours", 4)
    assert post(browser, "/reviews/999999999/delete").status_code == 404


def test_delete_own_review(browser, diner, db_session):
    review = ReviewFactory(user_id=diner.id)
    assert post(browser, f"/reviews/{review.id}/delete").status_code == 302
    assert db_session.scalar(select(Review).where(Review.id == review.id)) is None


def test_comments_add_edit_delete_own_only(browser, diner, db_session):
    review = ReviewFactory()
    assert (
        post(browser, f"/reviews/{review.id}/comments", {"body": "Agree on the sambal"}).status_code
        == 302
    )
    mine = db_session.scalar(select(Comment).where(Comment.user_id == diner.id))
    assert mine.body == "Agree on the sambal"
    blank = post(browser, f"/reviews/{review.id}/comments", {"body": "   "}, follow_redirects=True)
    assert "Write something first." in text(blank)
    assert post(browser, f"/comments/{mine.id}/edit", {"body": "Agree!"}).status_code == 302
    theirs = CommentFactory(review=review)
    assert post(browser, f"/comments/{theirs.id}/edit", {"body": "x"}).status_code == 403
    assert post(browser, f"/comments/{theirs.id}/delete").status_code == 403
    assert post(browser, f"/comments/{mine.id}/delete").status_code == 302
    assert db_session.scalar(select(func.count()).select_from(Comment)) == 1


def test_most_helpful_uses_the_wilson_lower_bound(browser, db_session):
    restaurant = RestaurantFactory()
    lucky = ReviewFactory(restaurant_id=restaurant.id, title="Three of three")
    proven = ReviewFactory(restaurant_id=restaurant.id, title="Eighteen of twenty")
    for _ in range(3):
        ReviewVoteFactory(review_id=lucky.id, value=1)
    for n in range(20):
        ReviewVoteFactory(review_id=proven.id, value=1 if n < 18 else -1)
    page = text(browser.get(f"/restaurants/{restaurant.slug}"))
    assert page.index("Eighteen of twenty") < page.index("Three of three")


def test_a_huge_upload_is_a_clear_413_and_nothing_is_stored(browser, diner, db_session, app):
    restaurant = RestaurantFactory()
    huge = (io.BytesIO(b"\xff" * (app.config["MAX_CONTENT_LENGTH"] + 1)), "huge.jpg")
    response = write(browser, restaurant, new_photos=[huge])
    assert response.status_code == 413
    assert "too large" in text(response)
    assert db_session.scalar(select(func.count()).select_from(Review)) == 0


def test_a_photo_over_the_per_photo_limit_is_refused_with_its_reason(
    browser, diner, db_session, app
):
    restaurant = RestaurantFactory()
    big = (io.BytesIO(b"\xff" * (app.config["PHOTO_MAX_BYTES"] + 1)), "big.jpg")
    response = write(browser, restaurant, new_photos=[big])
    assert response.status_code == 422
    assert "MB" in text(response)
    assert db_session.scalar(select(func.count()).select_from(Review)) == 0
