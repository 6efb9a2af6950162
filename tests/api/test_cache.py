"""Public GETs: ETag round trips, answers from the DynamoDB cache, and staleness never served."""

from __future__ import annotations

import boto3
import pytest

from bellyfed.api import cache
from bellyfed.dynamo import CLIENT_CONFIG
from bellyfed.rankings.services import place
from bellyfed.reviews.services import write_review
from bellyfed.votes import services as votes
from bellyfed.votes.models import ReviewVote
from tests.conftest import free_port
from tests.factories import DishFactory, DishTypeFactory, RestaurantFactory, UserFactory
from tests.leaderboards.boards import run_queued_recomputes
from tests.web import count_statements


@pytest.fixture
def cache_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "API_CACHE_SECONDS", 300)


@pytest.fixture
def place_to_eat(db_session, redis_client):
    restaurant = RestaurantFactory(name="Kedai Kopi Lima")
    DishFactory(restaurant=restaurant, name="Kopi O", dish_type=DishTypeFactory(name="Kopi"))
    db_session.commit()
    return restaurant


def test_etag_round_trip_gives_304_without_a_body(api, place_to_eat):
    url = f"/api/v1/restaurants/{place_to_eat.slug}"
    first = api.get(url)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, no-cache"
    again = api.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag
    other = api.get(url, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


def test_a_repeated_get_is_answered_from_the_cache_without_postgresql(
    api, app, place_to_eat, cache_on
):
    url = f"/api/v1/restaurants/{place_to_eat.slug}"
    miss = api.get(url)
    assert miss.headers["X-Cache"] == "miss"
    with app.app_context(), count_statements() as statements:
        hit = api.get(url)
    assert hit.headers["X-Cache"] == "hit"
    assert statements == []
    assert hit.get_data() == miss.get_data()
    assert hit.headers["ETag"] == miss.headers["ETag"]
    with app.app_context(), count_statements() as statements:
        not_modified = api.get(url, headers={"If-None-Match": miss.headers["ETag"]})
    assert not_modified.status_code == 304
    assert statements == []


def test_a_restaurant_change_is_visible_on_the_next_request(
    api, place_to_eat, db_session, cache_on
):
    url = f"/api/v1/restaurants/{place_to_eat.slug}"
    before = api.get(url)
    place_to_eat.name = "Kedai Kopi Enam"
    db_session.commit()
    after = api.get(url, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["X-Cache"] == "miss"
    assert after.get_json()["name"] == "Kedai Kopi Enam"
    assert after.headers["ETag"] != before.headers["ETag"]


def test_a_ranking_changes_the_cached_standing(
    app, api, place_to_eat, db_session, redis_client, cache_on
):
    url = f"/api/v1/restaurants/{place_to_eat.slug}"
    dish = place_to_eat.dishes[0]
    assert api.get(url).get_json()["menu"][0]["dishes"][0]["standing"] is None
    place(UserFactory().id, dish, 1)
    db_session.commit()
    assert api.get(url).get_json()["menu"][0]["dishes"][0]["standing"] is None  # not yet computed
    run_queued_recomputes(app, redis_client)  # the worker's commit makes that answer stale
    standing = api.get(url).get_json()["menu"][0]["dishes"][0]["standing"]
    assert standing["rank"] == 1


def test_reviews_and_review_votes_change_the_cached_review_list(
    api, place_to_eat, db_session, cache_on
):
    url = f"/api/v1/restaurants/{place_to_eat.slug}/reviews"
    assert api.get(url).get_json()["items"] == []
    author, voter = UserFactory(), UserFactory()
    review = write_review(user_id=author.id, restaurant_id=place_to_eat.id, rating=5,
                          body="Strong and sweet, the way it should be.")  # fmt: skip
    db_session.commit()
    listed = api.get(url).get_json()["items"]
    assert [r["id"] for r in listed] == [review.id]
    votes.toggle(ReviewVote, voter.id, review.id, 1)
    db_session.commit()
    assert api.get(url).get_json()["items"][0]["helpful"]["up"] == 1


def test_dynamodb_down_still_answers(api, app, place_to_eat, cache_on, monkeypatch):
    dead = boto3.resource(
        "dynamodb", region_name=app.config["AWS_REGION"],
        endpoint_url=f"http://127.0.0.1:{free_port()}", config=CLIENT_CONFIG,
    )  # fmt: skip
    monkeypatch.setitem(app.extensions, "dynamodb", dead)
    response = api.get(f"/api/v1/restaurants/{place_to_eat.slug}")
    assert response.status_code == 200
    assert response.headers["X-Cache"] == "miss"
    assert response.headers["ETag"]


def test_open_now_answers_are_keyed_by_their_quarter_hour(app):
    with app.test_request_context("/api/v1/restaurants?open_now=1"):
        now = 1_800_000_000.0
        same = cache.response_key(True, now + 60)
        assert cache.response_key(True, now) == same
        assert cache.response_key(True, now + 15 * 60) != same
        assert cache.response_key(False, now) == cache.response_key(False, now + 3600)
        assert cache._ttl(300, True, 1_800_000_000 - 30) == 30  # cut at the slot's end


def test_errors_are_not_cached(api, cache_on):
    assert api.get("/api/v1/restaurants/nowhere").status_code == 404
    again = api.get("/api/v1/restaurants/nowhere")
    assert again.status_code == 404
    assert "X-Cache" not in again.headers


def test_an_authors_new_name_and_a_removed_photo_reach_cached_review_lists(
    api, place_to_eat, db_session, cache_on
):
    from bellyfed.accounts.services import update_profile
    from bellyfed.photos.services import delete_photo
    from tests.factories import PhotoFactory

    author = UserFactory(display_name="Old Name")
    review = write_review(user_id=author.id, restaurant_id=place_to_eat.id, rating=4,
                          body="Good kopi, slow service.")  # fmt: skip
    photo = PhotoFactory(review_id=review.id, uploader_id=author.id)
    db_session.commit()
    url = f"/api/v1/restaurants/{place_to_eat.slug}/reviews"
    first = api.get(url).get_json()["items"][0]
    assert len(first["photos"]) == 1
    update_profile(author, display_name="New Name", bio="", home_city_id=None)
    db_session.commit()
    assert "New Name" in str(api.get(url).get_json()["items"][0])
    delete_photo(photo)
    db_session.commit()
    assert api.get(url).get_json()["items"][0]["photos"] == []


def test_made_up_arguments_do_not_multiply_cache_entries(api, app, place_to_eat, cache_on):
    url = f"/api/v1/restaurants/{place_to_eat.slug}"
    assert api.get(url).headers["X-Cache"] == "miss"
    with app.app_context(), count_statements() as statements:
        busted = api.get(f"{url}?cachebuster=42")
    assert busted.headers["X-Cache"] == "hit"  # no query parameters: the query string is ignored
    assert statements == []
    refused = api.get("/api/v1/restaurants?q=kopi&cachebuster=42")
    assert refused.status_code == 400  # a view with parameters refuses unknown ones
