"""Voting over HTTP: toggled in place with HTMX, one vote per user and item, my history."""

import pytest
from sqlalchemy import select

from bellyfed.votes.models import DishVote, ReviewVote
from tests.factories import DishFactory, DishVoteFactory, ReviewFactory, UserFactory
from tests.web import log_in, post, text


@pytest.fixture
def diner(browser, db_session):
    user = UserFactory()
    log_in(browser, user.username)
    return user


def my_vote(db_session, model, user, **where):
    column = model.dish_id if model is DishVote else model.review_id
    return db_session.scalar(
        select(model.value).where(model.user_id == user.id, column == next(iter(where.values())))
    )


def test_like_toggles_in_place_with_counts(browser, diner, db_session):
    dish = DishFactory(name="Char Kway Teow")
    DishVoteFactory(dish_id=dish.id, value=1)  # someone else's like
    response = post(browser, f"/dishes/{dish.id}/vote", {"value": "like"}, htmx=True)
    assert response.status_code == 200
    fragment = text(response)
    assert "<html" not in fragment
    assert 'aria-pressed="true"' in fragment
    assert "(2)" in fragment
    assert my_vote(db_session, DishVote, diner, dish=dish.id) == 1
    # Changing the vote, then clearing it by casting it again.
    post(browser, f"/dishes/{dish.id}/vote", {"value": "dislike"}, htmx=True)
    assert my_vote(db_session, DishVote, diner, dish=dish.id) == -1
    again = post(browser, f"/dishes/{dish.id}/vote", {"value": "dislike"}, htmx=True)
    assert my_vote(db_session, DishVote, diner, dish=dish.id) is None
    assert 'aria-pressed="true"' not in text(again)
    assert db_session.scalar(select(DishVote.id).where(DishVote.user_id == diner.id)) is None


def test_without_javascript_the_vote_redirects_back(browser, diner, db_session):
    dish = DishFactory()
    response = post(browser, f"/dishes/{dish.id}/vote", {"value": "like", "next": "/search?q=x"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/search?q=x"


def test_open_redirects_are_refused(browser, diner, db_session):
    dish = DishFactory()
    for target in ("https://evil.example", "//evil.example", "/\\evil.example"):
        response = post(browser, f"/dishes/{dish.id}/vote", {"value": "like", "next": target})
        assert response.headers["Location"] == "/"


def test_bad_votes_are_clear_4xx(browser, diner, db_session):
    dish = DishFactory()
    bad = post(browser, f"/dishes/{dish.id}/vote", {"value": "love"})
    assert bad.status_code == 400
    assert "like, dislike" in text(bad)
    assert post(browser, "/dishes/999999999/vote", {"value": "like"}).status_code == 404


def test_helpful_votes_on_reviews_but_not_on_your_own(browser, diner, db_session):
    review = ReviewFactory()
    response = post(browser, f"/reviews/{review.id}/vote", {"value": "helpful"}, htmx=True)
    assert response.status_code == 200
    assert "1 of 1 found this helpful" in text(response)
    own = ReviewFactory(user_id=diner.id)
    refused = post(browser, f"/reviews/{own.id}/vote", {"value": "helpful"})
    assert refused.status_code == 403
    assert my_vote(db_session, ReviewVote, diner, review=own.id) is None


def test_voting_needs_login_and_csrf(browser, db_session):
    dish = DishFactory()
    anonymous = post(browser, f"/dishes/{dish.id}/vote", {"value": "like"})
    assert anonymous.status_code == 302
    user = UserFactory()
    log_in(browser, user.username)
    forged = browser.post(f"/dishes/{dish.id}/vote", data={"value": "like"})
    assert forged.status_code == 400
    assert db_session.scalar(select(DishVote.id).where(DishVote.dish_id == dish.id)) is None


def test_my_votes_lists_dishes_and_reviews(browser, diner, db_session):
    dish = DishFactory(name="Roti Canai Telur")
    review = ReviewFactory(title="Crispy and buttery")
    post(browser, f"/dishes/{dish.id}/vote", {"value": "like"})
    post(browser, f"/reviews/{review.id}/vote", {"value": "not_helpful"})
    page = text(browser.get("/me/votes"))
    assert "Roti Canai Telur" in page
    assert "Crispy and buttery" in page
    assert "Not helpful" in page
