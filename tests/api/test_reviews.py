"""/api/v1 reviews: the restaurant page's list and pages, one review, writing one's own, photos."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from bellyfed.photos.models import Photo
from bellyfed.restaurants.models import Restaurant
from bellyfed.restaurants.stats import refresh_restaurant_stats
from bellyfed.reviews.models import Review
from bellyfed.reviews.queries import reviews_for
from tests.api.conftest import problem
from tests.factories import (
    DishFactory,
    PhotoFactory,
    RestaurantFactory,
    ReviewFactory,
    ReviewVoteFactory,
    UserFactory,
)
from tests.photos.conftest import switch_off_s3
from tests.photos.images import plain_jpeg


@pytest.fixture
def place(db_session):
    return RestaurantFactory(name="Restoran Yut Kee")


@pytest.fixture
def diner(db_session):
    return UserFactory(username="makan_kaki", display_name="Makan Kaki")


def count(db_session, model, *where) -> int:
    return db_session.scalar(select(func.count()).select_from(model).where(*where))


def jpeg(name: str = "plate.jpg") -> tuple[io.BytesIO, str]:
    return io.BytesIO(plain_jpeg((400, 300))), name


# --- reading -------------------------------------------------------------------------------------


def test_list_is_the_restaurant_pages_order_with_votes_dish_photos_and_pages(
    api, app, db_session, place, diner
):
    dish = DishFactory(restaurant=place, name="Roti babi")
    reviews = [ReviewFactory(restaurant_id=place.id, body=f"Visit {n}") for n in range(24)]
    featured = ReviewFactory(restaurant_id=place.id, user_id=diner.id, rating=5, title="Go early",
                             dish_id=dish.id, visited_on=date(2024, 5, 1))  # fmt: skip
    photo = PhotoFactory(review_id=featured.id, uploader_id=diner.id)
    for value in (1, 1, 1, -1):
        ReviewVoteFactory(review_id=featured.id, value=value)
    ReviewVoteFactory(review_id=reviews[3].id, value=1)
    refresh_restaurant_stats([place.id])
    db_session.flush()

    response = api.get(f"/api/v1/restaurants/{place.slug}/reviews")
    assert response.status_code == 200
    body = response.get_json()
    with app.test_request_context():
        expected = [r.id for r in reviews_for(place.id, "helpful", 20, 0)]
    assert [r["id"] for r in body["items"]] == expected
    assert (body["page"], body["pages"], body["total"]) == (1, 2, 25)
    first = body["items"][0]
    assert first["id"] == featured.id
    assert first["author"] == {"username": "makan_kaki", "display_name": "Makan Kaki"}
    assert (first["rating"], first["title"], first["visited_on"]) == (5, "Go early", "2024-05-01")
    assert first["dish"]["id"] == dish.id
    assert first["dish"]["name"] == "Roti babi"
    assert first["dish"]["url"].endswith(f"/api/v1/dishes/{dish.id}")
    assert first["helpful"] == {"up": 3, "down": 1}
    assert first["photos"][0]["url"].endswith(f"/photos/{photo.id}")
    assert first["photos"][0]["thumbnail_url"].endswith(f"/photos/{photo.id}/thumb")
    assert first["restaurant"]["slug"] == place.slug
    assert first["url"].endswith(f"/api/v1/reviews/{featured.id}")
    assert first["created_at"]
    assert first["updated_at"]
    assert body["items"][1]["dish"] is None

    second = api.get(body["next"]).get_json()
    assert "sort=helpful" in body["next"]
    assert "page=2" in body["next"]
    assert len(second["items"]) == 5
    assert second["next"] is None
    assert {r["id"] for r in body["items"] + second["items"]} == {
        r.id for r in [*reviews, featured]
    }


def test_newest_sort_and_pages_past_the_end(api, db_session, place):
    older = ReviewFactory(restaurant_id=place.id)
    newer = ReviewFactory(restaurant_id=place.id)
    ReviewVoteFactory(review_id=older.id, value=1)
    refresh_restaurant_stats([place.id])
    db_session.flush()
    url = f"/api/v1/restaurants/{place.slug}/reviews"
    assert [r["id"] for r in api.get(url).get_json()["items"]] == [older.id, newer.id]
    newest = api.get(f"{url}?sort=newest").get_json()
    assert [r["id"] for r in newest["items"]] == [newer.id, older.id]
    assert newest["next"] is None
    beyond = api.get(f"{url}?page=3").get_json()
    assert beyond["items"] == []
    assert beyond["next"] is None


def test_bad_list_parameters_are_400_and_unknown_restaurants_404(api, db_session, place):
    hidden = RestaurantFactory(is_active=False)
    db_session.flush()
    url = f"/api/v1/restaurants/{place.slug}/reviews"
    for query, needle in [("sort=best", "helpful"), ("page=0", "numbered"),
                          ("page=1001", "numbered"), ("page=two", "page"), ("page=1.5", "page")]:  # fmt: skip
        response = api.get(f"{url}?{query}")
        assert response.status_code == 400, query
        assert needle in problem(response)["detail"], query
    for slug in ("nowhere", hidden.slug):
        response = api.get(f"/api/v1/restaurants/{slug}/reviews")
        assert response.status_code == 404
        assert slug in problem(response)["detail"]


def test_one_review_and_its_404s(api, db_session, place, diner):
    review = ReviewFactory(restaurant_id=place.id, user_id=diner.id, title="Kaya toast")
    hidden = ReviewFactory(restaurant_id=RestaurantFactory(is_active=False).id)
    db_session.flush()
    response = api.get(f"/api/v1/reviews/{review.id}")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["title"], body["photos"]) == (review.id, "Kaya toast", [])
    assert body["helpful"] == {"up": 0, "down": 0}
    assert body["restaurant"]["url"].endswith(f"/api/v1/restaurants/{place.slug}")
    for review_id in (hidden.id, review.id + 1000, 2**63):
        assert problem(api.get(f"/api/v1/reviews/{review_id}")).get("status") == 404


def test_ids_past_bigint_are_404_for_every_method(api, token_for, db_session, diner):
    headers, url = token_for(diner), f"/api/v1/reviews/{2**63}"
    for response in (api.patch(url, json={"rating": 1}, headers=headers),
                     api.delete(url, headers=headers),
                     api.post(f"{url}/photos", data={"photo": jpeg()}, headers=headers,
                              content_type="multipart/form-data")):  # fmt: skip
        assert problem(response)["status"] == 404


def test_public_reads_carry_an_etag(api, db_session, place):
    review = ReviewFactory(restaurant_id=place.id)
    db_session.flush()
    for url in (f"/api/v1/restaurants/{place.slug}/reviews", f"/api/v1/reviews/{review.id}"):
        first = api.get(url)
        assert first.headers["Cache-Control"] == "public, no-cache"
        assert api.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304


# --- writing -------------------------------------------------------------------------------------


def test_write_a_review(api, token_for, db_session, place, diner):
    dish = DishFactory(restaurant=place, name="Hainanese chicken chop")
    body = {"rating": 4, "body": "  Crispy, old-school gravy.  ", "title": "Still great",
            "visited_on": "2024-06-01", "dish_id": dish.id}  # fmt: skip
    response = api.post(f"/api/v1/restaurants/{place.slug}/reviews", json=body,
                        headers=token_for(diner))  # fmt: skip
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert response.headers["Location"] == created["url"]
    assert created["body"] == "Crispy, old-school gravy."
    assert created["dish"]["name"] == "Hainanese chicken chop"
    assert created["author"]["username"] == "makan_kaki"
    row = db_session.get(Review, created["id"])
    assert (row.user_id, row.rating, row.visited_on) == (diner.id, 4, date(2024, 6, 1))
    db_session.expire_all()
    assert db_session.get(Restaurant, place.id).review_count == 1  # stats refreshed, as the web
    listed = api.get(f"/api/v1/restaurants/{place.slug}/reviews").get_json()
    assert [r["id"] for r in listed["items"]] == [created["id"]]
    minimal = api.post(f"/api/v1/restaurants/{place.slug}/reviews",
                       json={"rating": 1, "body": "Changed hands."}, headers=token_for(diner))  # fmt: skip
    assert minimal.status_code == 201  # nothing limits a diner to one review per restaurant
    assert (minimal.get_json()["title"], minimal.get_json()["dish"]) == ("", None)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rating": None}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": 0}, "rating"),
        ({"rating": "5"}, "rating"),
        ({"rating": True}, "rating"),
        ({"body": "   "}, "body"),
        ({"body": ""}, "body"),
        ({"body": "x" * 5001}, "body"),
        ({"body": "nul\x00byte"}, "body"),
        ({"body": "half \ud800 pair"}, "body"),
        ({"title": "t" * 121}, "title"),
        ({"title": "nul\x00"}, "title"),
        ({"title": None}, "title"),
        ({"visited_on": (date.today() + timedelta(days=2)).isoformat()}, "visited_on"),
        ({"visited_on": "yesterday"}, "visited_on"),
        ({"dish_id": 2**63}, "dish_id"),
        ({"dish_id": "1"}, "dish_id"),
        ({"stars": 5}, "stars"),
    ],
)
def test_bad_review_bodies_are_422_naming_the_field(
    api, token_for, db_session, place, diner, change, field
):
    body = {"rating": 5, "body": "Good."}
    body.update(change)
    body = {k: v for k, v in body.items() if not (k == "rating" and v is None)}
    response = api.post(f"/api/v1/restaurants/{place.slug}/reviews", json=body,
                        headers=token_for(diner))  # fmt: skip
    assert response.status_code == 422, change
    assert field in problem(response)["errors"], problem(response)
    assert count(db_session, Review) == 0


def test_dish_must_be_on_that_restaurants_menu_and_bodies_must_be_json(
    api, token_for, db_session, place, diner
):
    elsewhere = DishFactory()
    db_session.flush()
    url, headers = f"/api/v1/restaurants/{place.slug}/reviews", token_for(diner)
    for dish_id in (elsewhere.id, elsewhere.id + 1000):
        response = api.post(url, json={"rating": 3, "body": "Ok.", "dish_id": dish_id},
                            headers=headers)  # fmt: skip
        assert response.status_code == 422
        assert "isn't on the menu" in problem(response)["detail"]
    for data, content_type in [("rating=5&body=hi", "application/x-www-form-urlencoded"),
                               ("", "application/json"), ("[1, 2]", "application/json")]:  # fmt: skip
        response = api.post(url, data=data, content_type=content_type, headers=headers)
        assert response.status_code == 422, data
        problem(response)
    broken = api.post(url, data="{not json", content_type="application/json", headers=headers)
    assert broken.status_code == 400
    assert "json" in problem(broken)["detail"].lower()
    assert count(db_session, Review) == 0


def test_writes_need_a_token_and_a_listed_restaurant(api, token_for, db_session, place, diner):
    hidden = RestaurantFactory(is_active=False)
    db_session.flush()
    body = {"rating": 5, "body": "Good."}
    url = f"/api/v1/restaurants/{place.slug}/reviews"
    assert problem(api.post(url, json=body))["status"] == 401
    bad = api.post(url, json=body, headers={"Authorization": "Bearer bf_nope"})
    assert problem(bad)["status"] == 401
    for slug in ("nowhere", hidden.slug):
        response = api.post(f"/api/v1/restaurants/{slug}/reviews", json=body,
                            headers=token_for(diner))  # fmt: skip
        assert problem(response)["status"] == 404
    assert count(db_session, Review) == 0


def test_edit_changes_only_the_fields_sent(api, token_for, db_session, place, diner):
    dish = DishFactory(restaurant=place)
    review = ReviewFactory(restaurant_id=place.id, user_id=diner.id, rating=2, title="Meh",
                           dish_id=dish.id, visited_on=date(2024, 1, 2))  # fmt: skip
    refresh_restaurant_stats([place.id])
    db_session.flush()
    url, headers = f"/api/v1/reviews/{review.id}", token_for(diner)
    response = api.patch(url, json={"rating": 5, "title": " Better now "}, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["rating"], body["title"], body["dish"]["id"]) == (5, "Better now", dish.id)
    assert body["visited_on"] == "2024-01-02"
    cleared = api.patch(url, json={"dish_id": None, "visited_on": None}, headers=headers)
    assert (cleared.get_json()["dish"], cleared.get_json()["visited_on"]) == (None, None)
    db_session.expire_all()
    assert (review.rating, review.dish_id, review.body) == (
        5,
        None,
        "Proper wok hei, would come back.",
    )
    assert db_session.get(Restaurant, place.id).rating_sum == 5
    assert api.get(url).get_json()["title"] == "Better now"


def test_edit_refusals(api, token_for, db_session, place, diner):
    review = ReviewFactory(restaurant_id=place.id, user_id=diner.id)
    elsewhere = DishFactory()
    db_session.flush()
    url, headers = f"/api/v1/reviews/{review.id}", token_for(diner)
    assert problem(api.patch(url, json={"rating": 1}))["status"] == 401
    others = api.patch(url, json={"rating": 1}, headers=token_for(UserFactory()))
    assert problem(others)["status"] == 403
    assert "your own" in problem(others)["detail"]
    missing = api.patch(f"/api/v1/reviews/{review.id + 1000}", json={"rating": 1}, headers=headers)
    assert problem(missing)["status"] == 404
    for body in ({}, {"rating": 9}, {"body": " "}, {"dish_id": elsewhere.id}, {"user_id": 1}):
        assert problem(api.patch(url, json=body, headers=headers))["status"] == 422, body
    db_session.expire_all()
    assert review.rating == 4


def test_edit_is_refused_with_409_when_the_review_has_more_photos_than_allowed_now(
    api, app, token_for, db_session, place, diner, monkeypatch
):
    review = ReviewFactory(restaurant_id=place.id, user_id=diner.id)
    PhotoFactory(review_id=review.id, uploader_id=diner.id)
    PhotoFactory(review_id=review.id, uploader_id=diner.id, position=1)
    db_session.flush()
    monkeypatch.setitem(app.config, "REVIEW_MAX_PHOTOS", 1)
    response = api.patch(f"/api/v1/reviews/{review.id}", json={"rating": 1},
                         headers=token_for(diner))  # fmt: skip
    assert response.status_code == 409
    assert "up to 1 photos" in problem(response)["detail"]


def test_delete_own_review_only(api, token_for, db_session, place, diner):
    review = ReviewFactory(restaurant_id=place.id, user_id=diner.id)
    refresh_restaurant_stats([place.id])
    db_session.flush()
    url = f"/api/v1/reviews/{review.id}"
    assert problem(api.delete(url))["status"] == 401
    assert problem(api.delete(url, headers=token_for(UserFactory())))["status"] == 403
    response = api.delete(url, headers=token_for(diner))
    assert response.status_code == 204
    assert response.get_data() == b""
    assert count(db_session, Review, Review.id == review.id) == 0
    db_session.expire_all()
    assert db_session.get(Restaurant, place.id).review_count == 0
    assert api.get(url).status_code == 404
    assert problem(api.delete(url, headers=token_for(diner)))["status"] == 404


# --- photos --------------------------------------------------------------------------------------


def upload(api, review, headers, photo=None):
    data = {"photo": photo if photo is not None else jpeg()}
    return api.post(f"/api/v1/reviews/{review.id}/photos", data=data, headers=headers,
                    content_type="multipart/form-data")  # fmt: skip


def test_add_a_photo_to_my_review(api, token_for, db_session, place, diner):
    review = ReviewFactory(restaurant_id=place.id, user_id=diner.id)
    db_session.flush()
    headers = token_for(diner)
    first = upload(api, review, headers)
    assert first.status_code == 201, first.get_json()
    second = upload(api, review, headers, jpeg("second.jpg"))
    photos = second.get_json()["photos"]
    assert len(photos) == 2
    assert second.headers["Location"] == photos[1]["url"]
    assert (photos[0]["width"], photos[0]["height"]) == (400, 300)
    served = api.get(second.headers["Location"])
    assert served.status_code == 200
    assert served.content_type == "image/jpeg"
    stored = db_session.scalars(select(Photo).where(Photo.review_id == review.id)).all()
    assert sorted(p.position for p in stored) == [0, 1]
    assert api.get(f"/api/v1/reviews/{review.id}").get_json()["photos"] == photos


def test_photo_refusals(api, app, token_for, db_session, place, diner, monkeypatch):
    review = ReviewFactory(restaurant_id=place.id, user_id=diner.id)
    db_session.flush()
    headers = token_for(diner)
    assert problem(upload(api, review, {}))["status"] == 401
    assert problem(upload(api, review, token_for(UserFactory())))["status"] == 403
    missing = api.post(f"/api/v1/reviews/{review.id + 1000}/photos", data={"photo": jpeg()},
                       headers=headers, content_type="multipart/form-data")  # fmt: skip
    assert problem(missing)["status"] == 404
    not_a_photo = upload(api, review, headers, (io.BytesIO(b"GIF89a not really"), "cat.jpg"))
    assert not_a_photo.status_code == 422
    assert "JPEG, PNG or WebP" in problem(not_a_photo)["detail"]
    big = (io.BytesIO(b"\xff" * (app.config["PHOTO_MAX_BYTES"] + 1)), "big.jpg")
    assert "MB" in problem(upload(api, review, headers, big))["detail"]
    nameless = upload(api, review, headers, (io.BytesIO(b""), ""))
    assert problem(nameless)["status"] == 422
    as_json = api.post(f"/api/v1/reviews/{review.id}/photos", json={"photo": "x"},
                       headers=headers)  # fmt: skip
    assert problem(as_json)["status"] == 422
    assert "photo" in problem(as_json)["errors"]
    assert count(db_session, Photo) == 0


def test_the_photo_limit_is_a_409(api, app, token_for, db_session, place, diner, monkeypatch):
    review = ReviewFactory(restaurant_id=place.id, user_id=diner.id)
    db_session.flush()
    monkeypatch.setitem(app.config, "REVIEW_MAX_PHOTOS", 1)
    headers = token_for(diner)
    assert upload(api, review, headers).status_code == 201
    refused = upload(api, review, headers)
    assert refused.status_code == 409
    assert "up to 1 photos" in problem(refused)["detail"]
    assert count(db_session, Photo) == 1


def test_too_large_a_request_is_413(api, app, token_for, db_session, place, diner, monkeypatch):
    review = ReviewFactory(restaurant_id=place.id, user_id=diner.id)
    db_session.flush()
    headers = token_for(diner)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 10_000)
    response = upload(api, review, headers, (io.BytesIO(b"\xff" * 20_000), "huge.jpg"))
    assert response.status_code == 413
    assert "too large" in problem(response)["detail"]
    assert count(db_session, Photo) == 0


def test_photo_storage_down_is_503_and_nothing_is_kept(
    api, app, token_for, db_session, place, diner, monkeypatch
):
    review = ReviewFactory(restaurant_id=place.id, user_id=diner.id)
    db_session.flush()
    headers = token_for(diner)
    switch_off_s3(monkeypatch, app)
    response = upload(api, review, headers)
    assert response.status_code == 503
    problem(response)
    assert count(db_session, Photo) == 0


def test_the_document_describes_the_upload_as_multipart(api):
    spec = api.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/reviews/{review_id}/photos"]["post"]
    schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    name = schema["$ref"].rsplit("/", 1)[-1]
    photo = spec["components"]["schemas"][name]["properties"]["photo"]
    assert (photo["type"], photo["format"]) == ("string", "binary")
    assert {"401", "403", "404", "409", "413", "422", "503"} <= set(operation["responses"])
