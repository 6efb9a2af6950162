"""/api/v1 votes: PUT sets and DELETE clears a vote, both idempotent; my votes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bellyfed.restaurants.models import Restaurant
from bellyfed.votes.models import DishVote, ReviewVote
from tests.api.conftest import problem
from tests.factories import (
    DishFactory,
    DishVoteFactory,
    RestaurantFactory,
    ReviewFactory,
    ReviewVoteFactory,
    UserFactory,
)


@pytest.fixture
def voter(db_session):
    return UserFactory()


def stored_vote(db_session, model, user_id: int, item_id: int) -> int | None:
    column = model.dish_id if model is DishVote else model.review_id
    db_session.expire_all()
    return db_session.scalar(select(model.value).where(model.user_id == user_id, column == item_id))


def test_put_sets_a_dish_vote_and_repeating_it_keeps_it(api, token_for, db_session, voter):
    dish = DishFactory()
    DishVoteFactory(dish_id=dish.id, value=1)
    DishVoteFactory(dish_id=dish.id, value=-1)
    db_session.flush()
    url, headers = f"/api/v1/dishes/{dish.id}/vote", token_for(voter)
    for _ in range(2):
        response = api.put(url, json={"value": 1}, headers=headers)
        assert response.status_code == 200
        assert response.get_json() == {"kind": "dish", "id": dish.id, "vote": 1, "up": 2, "down": 1}
        assert stored_vote(db_session, DishVote, voter.id, dish.id) == 1
    changed = api.put(url, json={"value": -1}, headers=headers).get_json()
    assert (changed["vote"], changed["up"], changed["down"]) == (-1, 1, 2)
    assert stored_vote(db_session, DishVote, voter.id, dish.id) == -1
    detail = api.get(f"/api/v1/dishes/{dish.id}").get_json()
    assert detail["votes"] == {"up": 1, "down": 2}


def test_delete_clears_a_dish_vote_and_is_idempotent(api, token_for, db_session, voter):
    dish = DishFactory()
    DishVoteFactory(dish_id=dish.id, user_id=voter.id, value=1)
    db_session.flush()
    url, headers = f"/api/v1/dishes/{dish.id}/vote", token_for(voter)
    for _ in range(2):
        response = api.delete(url, headers=headers)
        assert response.status_code == 204
        assert response.get_data() == b""
        assert stored_vote(db_session, DishVote, voter.id, dish.id) is None


def test_dish_votes_refresh_the_restaurant_like_the_web(api, token_for, db_session, voter):
    dish = DishFactory()
    db_session.flush()
    api.put(f"/api/v1/dishes/{dish.id}/vote", json={"value": 1}, headers=token_for(voter))
    db_session.expire_all()
    assert db_session.get(Restaurant, dish.restaurant_id).popularity == 1


@pytest.mark.parametrize(
    "body",
    [
        {"value": 0},
        {"value": 2},
        {"value": "1"},
        {"value": True},
        {"value": 1.0},
        {"value": None},
        {},
        {"value": 1, "extra": 1},
    ],
)
def test_bad_vote_values_are_422(api, token_for, db_session, voter, body):
    dish = DishFactory()
    review = ReviewFactory()
    db_session.flush()
    headers = token_for(voter)
    for url in (f"/api/v1/dishes/{dish.id}/vote", f"/api/v1/reviews/{review.id}/vote"):
        response = api.put(url, json=body, headers=headers)
        assert response.status_code == 422, (url, body)
        assert problem(response)["errors"]
    assert stored_vote(db_session, DishVote, voter.id, dish.id) is None


def test_a_vote_sent_as_a_form_is_422(api, token_for, db_session, voter):
    dish = DishFactory()
    db_session.flush()
    response = api.put(f"/api/v1/dishes/{dish.id}/vote", data={"value": "1"},
                       headers=token_for(voter))  # fmt: skip
    assert response.status_code == 422
    assert "value" in problem(response)["errors"]


def test_unknown_or_hidden_items_are_404_and_writes_need_a_token(api, token_for, db_session, voter):
    hidden = RestaurantFactory(is_active=False)
    hidden_dish = DishFactory(restaurant=hidden)
    hidden_review = ReviewFactory(restaurant_id=hidden.id)
    dish, review = DishFactory(), ReviewFactory()
    db_session.flush()
    headers = token_for(voter)
    for url in (f"/api/v1/dishes/{hidden_dish.id}/vote", f"/api/v1/dishes/{dish.id + 1000}/vote",
                f"/api/v1/reviews/{hidden_review.id}/vote",
                f"/api/v1/reviews/{review.id + 1000}/vote", f"/api/v1/dishes/{2**63}/vote",
        f"/api/v1/reviews/{2**63}/vote"):  # fmt: skip
        assert problem(api.put(url, json={"value": 1}, headers=headers))["status"] == 404, url
        assert problem(api.delete(url, headers=headers))["status"] == 404, url
    for url in (f"/api/v1/dishes/{dish.id}/vote", f"/api/v1/reviews/{review.id}/vote"):
        assert problem(api.put(url, json={"value": 1}))["status"] == 401
        assert problem(api.delete(url))["status"] == 401
    assert problem(api.get("/api/v1/me/votes"))["status"] == 401


def test_review_votes_set_clear_and_not_on_your_own(api, token_for, db_session, voter):
    review = ReviewFactory()
    mine = ReviewFactory(user_id=voter.id)
    ReviewVoteFactory(review_id=review.id, value=1)
    db_session.flush()
    url, headers = f"/api/v1/reviews/{review.id}/vote", token_for(voter)
    for _ in range(2):
        body = api.put(url, json={"value": -1}, headers=headers).get_json()
        assert body == {"kind": "review", "id": review.id, "vote": -1, "up": 1, "down": 1}
    assert stored_vote(db_session, ReviewVote, voter.id, review.id) == -1
    helpful = api.get(f"/api/v1/reviews/{review.id}").get_json()["helpful"]
    assert helpful == {"up": 1, "down": 1}
    for _ in range(2):
        assert api.delete(url, headers=headers).status_code == 204
    assert stored_vote(db_session, ReviewVote, voter.id, review.id) is None

    own = api.put(f"/api/v1/reviews/{mine.id}/vote", json={"value": 1}, headers=headers)
    assert own.status_code == 403
    assert "your own review" in problem(own)["detail"]
    assert stored_vote(db_session, ReviewVote, voter.id, mine.id) is None
    assert api.delete(f"/api/v1/reviews/{mine.id}/vote", headers=headers).status_code == 204


def test_a_review_vote_shows_in_the_cached_review_list_at_once(
    api, app, token_for, db_session, voter, monkeypatch
):
    review = ReviewFactory()
    db_session.commit()
    monkeypatch.setitem(app.config, "API_CACHE_SECONDS", 300)
    url = f"/api/v1/restaurants/{review.restaurant.slug}/reviews"
    assert api.get(url).get_json()["items"][0]["helpful"]["up"] == 0
    assert api.get(url).headers["X-Cache"] == "hit"
    api.put(f"/api/v1/reviews/{review.id}/vote", json={"value": 1}, headers=token_for(voter))
    fresh = api.get(url)
    assert fresh.headers["X-Cache"] == "miss"
    assert fresh.get_json()["items"][0]["helpful"]["up"] == 1


def test_my_votes_lists_both_kinds_newest_first_and_is_not_cached(
    api, token_for, db_session, voter
):
    dish, latest = DishFactory(name="Nasi lemak"), DishFactory(name="Teh tarik")
    review = ReviewFactory(title="Best sambal")
    DishVoteFactory(
        user_id=voter.id, dish_id=dish.id, value=-1, updated_at=datetime(2024, 1, 1, tzinfo=UTC)
    )
    ReviewVoteFactory(
        user_id=voter.id, review_id=review.id, updated_at=datetime(2024, 2, 1, tzinfo=UTC)
    )
    DishVoteFactory(dish_id=dish.id)  # someone else's
    db_session.flush()
    headers = token_for(voter)
    api.put(f"/api/v1/dishes/{latest.id}/vote", json={"value": 1}, headers=headers)
    response = api.get("/api/v1/me/votes", headers=headers)
    assert response.status_code == 200
    assert "ETag" not in response.headers
    assert "X-Cache" not in response.headers
    items = response.get_json()["items"]
    assert [(i["kind"], i["id"], i["value"]) for i in items] == [
        ("dish", latest.id, 1),
        ("review", review.id, 1),
        ("dish", dish.id, -1),
    ]
    assert items[1]["name"] == "Best sambal"
    assert items[1]["url"].endswith(f"/api/v1/reviews/{review.id}")
    assert items[1]["updated_at"].startswith("2024-02-01")
    assert items[2]["name"] == "Nasi lemak"
    assert items[2]["url"].endswith(f"/api/v1/dishes/{dish.id}")
    assert items[2]["restaurant"]["slug"] == dish.restaurant.slug
    alone = api.get("/api/v1/me/votes", headers=token_for(UserFactory()))
    assert alone.get_json() == {"items": []}
