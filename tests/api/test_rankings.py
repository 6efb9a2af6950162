"""/api/v1/me/rankings: the caller's top-5s and taste marks, changed by the dish cards' services.

A top-5 place needs a photo of the dish as on the website: ``photo`` (a factory row, whose bytes
these tests never fetch) stands in for one uploaded through POST /me/photos; one test uploads
for real.
"""

from __future__ import annotations

import io
import threading

import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bellyfed.accounts import tokens
from bellyfed.accounts.models import User
from bellyfed.api.rankings import COLLIDED, NEEDS_NOTE, NEEDS_PHOTO, NOT_YOUR_PHOTO
from bellyfed.api.schemas import ERROR_DESCRIPTIONS
from bellyfed.dishes.models import DishType
from bellyfed.extensions import db
from bellyfed.photos.models import Photo
from bellyfed.rankings import services
from bellyfed.rankings.models import Ranking
from bellyfed.rankings.queries import history_for
from bellyfed.restaurants.models import City, Restaurant
from tests.api.conftest import problem
from tests.factories import (
    CityFactory,
    DishFactory,
    DishTypeFactory,
    PhotoFactory,
    RestaurantFactory,
    UserFactory,
)
from tests.photos.images import plain_jpeg
from tests.web import BrowserClient

ALL = "/api/v1/me/rankings"
LAKSA = "/api/v1/me/rankings/laksa"


def dish_url(dish_id: int) -> str:
    return f"/api/v1/me/rankings/dishes/{dish_id}"


@pytest.fixture
def town(db_session):
    """Six laksas and a satay in one city, and a diner with a token."""
    city = CityFactory(name="Ipoh")
    laksa = DishTypeFactory(slug="laksa", name="Laksa")
    satay = DishTypeFactory(slug="satay", name="Satay")
    places = [RestaurantFactory(city=city, name=f"Kedai {n}") for n in range(6)]
    laksas = [
        DishFactory(restaurant=place, dish_type=laksa, name=f"Laksa {n}")
        for n, place in enumerate(places)
    ]
    stick = DishFactory(restaurant=places[0], dish_type=satay, name="Satay Kajang")
    return {"laksa": laksa, "satay": satay, "laksas": laksas, "satay_dish": stick}


@pytest.fixture
def diner(db_session):
    return UserFactory()


@pytest.fixture
def auth(diner, token_for):
    return token_for(diner)


@pytest.fixture
def photo(diner):
    """A photo the diner uploaded."""
    return PhotoFactory(uploader_id=diner.id)


def place_with_photo(user_id: int, dish, position: int, notes: str) -> None:
    """Rank a dish through the services, as the website does: with a photo of the diner's."""
    services.place(
        user_id, dish, position, notes=notes, photo_id=PhotoFactory(uploader_id=user_id).id
    )


def photo_url(photo_id: int) -> str:
    return f"http://localhost/photos/{photo_id}"


def alt_text(photo_id: int) -> str:
    return db.session.scalar(select(Photo.alt_text).where(Photo.id == photo_id))


def ranked_ids(body: dict) -> list[int]:
    return [entry["dish"]["id"] for entry in body["ranked"]]


def actions(user_id: int) -> list[tuple[str, int, int | None, int | None]]:
    """The history page's rows, oldest first: (action, dish, old position, new position)."""
    return [
        (entry.action, dish.id, entry.old_position, entry.new_position)
        for entry, dish in reversed(history_for(user_id))
    ]


def test_my_rankings_lists_every_dish_type_as_the_page_does(api, town, diner, auth):
    laksas = town["laksas"]
    services.place(diner.id, laksas[0], 1, notes="Rich and sour")
    services.place(diner.id, laksas[1], 1, notes="Better")
    services.mark(diner.id, laksas[2], "second_chance")
    services.mark(diner.id, town["satay_dish"], "acceptable", notes="Fine")

    response = api.get(ALL, headers=auth)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    lists = response.get_json()["lists"]
    assert [group["dish_type"] for group in lists] == [
        {"slug": "laksa", "name": "Laksa"},
        {"slug": "satay", "name": "Satay"},
    ]
    laksa = lists[0]
    assert ranked_ids(laksa) == [laksas[1].id, laksas[0].id]
    first = laksa["ranked"][0]
    assert first["position"] == 1
    assert first["status"] is None
    assert first["notes"] == "Better"
    assert first["photo"] is None  # ranked through the services without one
    assert first["dish"]["name"] == "Laksa 1"
    assert first["dish"]["url"].endswith(f"/api/v1/dishes/{laksas[1].id}")
    assert first["restaurant"]["slug"] == laksas[1].restaurant.slug
    assert first["restaurant"]["name"] == "Kedai 1"
    assert first["restaurant"]["city"] == "Ipoh"
    assert first["restaurant"]["url"].endswith(f"/api/v1/restaurants/{laksas[1].restaurant.slug}")
    assert [(e["dish"]["id"], e["position"], e["status"]) for e in laksa["tried"]] == [
        (laksas[2].id, None, "second_chance")
    ]
    assert laksa["url"].endswith(LAKSA)
    assert lists[1]["ranked"] == []
    assert lists[1]["tried"][0]["notes"] == "Fine"
    # Each list's etag is the one its own GET sends.
    assert laksa["etag"] == api.get(LAKSA, headers=auth).headers["ETag"]


def test_nothing_ranked_yet_is_an_empty_answer(api, town, auth):
    assert api.get(ALL, headers=auth).get_json() == {"lists": []}
    response = api.get("/api/v1/me/rankings/satay", headers=auth)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["ranked"], body["tried"]) == ([], [])
    assert body["etag"] == response.headers["ETag"]


def test_one_list_has_an_etag_for_conditional_requests(api, town, diner, auth):
    services.place(diner.id, town["laksas"][0], 1, notes="Good")
    first = api.get(LAKSA, headers=auth)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "private, no-store"
    etag = first.headers["ETag"]
    assert ranked_ids(first.get_json()) == [town["laksas"][0].id]

    again = api.get(LAKSA, headers={**auth, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag

    services.place(diner.id, town["laksas"][1], 1, notes="Better")
    changed = api.get(LAKSA, headers={**auth, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_an_unknown_dish_type_is_404_and_a_nul_byte_400(api, town, auth):
    response = api.get("/api/v1/me/rankings/durian-cake", headers=auth)
    assert response.status_code == 404
    assert "durian-cake" in problem(response)["detail"]
    assert api.get("/api/v1/me/rankings/la%00ksa", headers=auth).status_code == 400


def test_every_endpoint_needs_a_token(api, town, diner):
    dish = town["laksas"][0]
    services.place(diner.id, dish, 1, notes="Mine")
    calls = [
        ("get", ALL, None),
        ("get", LAKSA, None),
        ("put", dish_url(dish.id), {"position": 1, "notes": "x"}),
        ("delete", dish_url(dish.id), None),
    ]
    for method, url, body in calls:
        for headers in ({}, {"Authorization": "Bearer bf_not-a-real-token"}):
            response = getattr(api, method)(url, json=body, headers=headers)
            assert response.status_code == 401, (method, url, headers)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            problem(response)
    assert db.session.scalar(select(Ranking.position).where(Ranking.dish_id == dish.id)) == 1


def test_ranking_a_dish_answers_its_list_and_what_changed(api, town, diner, auth, photo):
    dish = town["laksas"][0]
    response = api.put(
        dish_url(dish.id),
        json={"position": 1, "notes": "  Thick broth  ", "photo_id": photo.id},
        headers=auth,
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert ranked_ids(body["list"]) == [dish.id]
    assert body["list"]["ranked"][0]["notes"] == "Thick broth"
    assert body["list"]["ranked"][0]["photo"] == photo_url(photo.id)
    assert body["change"] == {
        "dish": body["list"]["ranked"][0]["dish"],
        "restaurant": body["list"]["ranked"][0]["restaurant"],
        "position": 1,
        "status": None,
        "previous_position": None,
        "previous_status": None,
        "clamped_from": None,
        "dropped": [],
    }
    assert response.headers["ETag"] == body["list"]["etag"]
    assert api.get(LAKSA, headers=auth).get_json() == body["list"]
    ranking = db.session.scalar(select(Ranking).where(Ranking.user_id == diner.id))
    assert (ranking.dish_id, ranking.position, ranking.notes) == (dish.id, 1, "Thick broth")
    assert ranking.photo_id == photo.id
    assert alt_text(photo.id) == dish.name  # as the web form's upload
    assert actions(diner.id) == [("ranked", dish.id, None, 1)]


def test_a_full_list_drops_its_fifth_into_the_history(api, town, diner, auth, photo):
    laksas = town["laksas"]
    for n, dish in enumerate(laksas[:5], start=1):
        services.place(diner.id, dish, n, notes=f"Number {n}")

    response = api.put(
        dish_url(laksas[5].id),
        json={"position": 2, "notes": "New", "photo_id": photo.id},
        headers=auth,
    )

    assert response.status_code == 200
    body = response.get_json()
    order = [laksas[0], laksas[5], laksas[1], laksas[2], laksas[3]]
    assert ranked_ids(body["list"]) == [d.id for d in order]
    assert [e["position"] for e in body["list"]["ranked"]] == [1, 2, 3, 4, 5]
    assert [d["dish"]["id"] for d in body["change"]["dropped"]] == [laksas[4].id]
    assert body["change"]["dropped"][0]["restaurant"]["name"] == "Kedai 4"
    assert ranked_ids(api.get(LAKSA, headers=auth).get_json()) == [d.id for d in order]
    latest = actions(diner.id)[5:]
    assert ("dropped", laksas[4].id, 5, None) in latest
    assert ("ranked", laksas[5].id, None, 2) in latest
    assert ("moved", laksas[1].id, 2, 3) in latest


def test_a_position_past_the_end_takes_the_next_free_place(api, town, auth, photo):
    dish = town["laksas"][0]
    body = api.put(
        dish_url(dish.id),
        json={"position": 5, "notes": "Only one", "photo_id": photo.id},
        headers=auth,
    )
    change = body.get_json()["change"]
    assert (change["position"], change["clamped_from"]) == (1, 5)


def test_moving_keeps_the_notes_and_photo_and_moves_the_others(api, town, diner, auth):
    laksas = town["laksas"]
    for n, dish in enumerate(laksas[:3], start=1):
        place_with_photo(diner.id, dish, n, f"Number {n}")
    kept = db.session.scalar(select(Ranking.photo_id).where(Ranking.dish_id == laksas[2].id))

    response = api.put(dish_url(laksas[2].id), json={"position": 1}, headers=auth)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert ranked_ids(body["list"]) == [laksas[2].id, laksas[0].id, laksas[1].id]
    assert body["list"]["ranked"][0]["notes"] == "Number 3"
    assert body["list"]["ranked"][0]["photo"] == photo_url(kept)
    assert (body["change"]["previous_position"], body["change"]["position"]) == (3, 1)
    assert ("moved", laksas[2].id, 3, 1) in actions(diner.id)


def test_a_taste_mark_takes_a_dish_out_of_the_top_5(api, town, diner, auth):
    laksas = town["laksas"]
    services.place(diner.id, laksas[0], 1, notes="First")
    services.place(diner.id, laksas[1], 2, notes="Second")

    response = api.put(dish_url(laksas[0].id), json={"status": "dissatisfied"}, headers=auth)

    assert response.status_code == 200
    body = response.get_json()
    assert ranked_ids(body["list"]) == [laksas[1].id]
    assert body["list"]["ranked"][0]["position"] == 1
    assert [(e["dish"]["id"], e["status"], e["notes"]) for e in body["list"]["tried"]] == [
        (laksas[0].id, "dissatisfied", "First")
    ]
    change = body["change"]
    assert (change["position"], change["status"]) == (None, "dissatisfied")
    assert (change["previous_position"], change["previous_status"]) == (1, None)
    assert ("status_set", laksas[0].id, 1, None) in actions(diner.id)
    assert ("moved", laksas[1].id, 2, 1) in actions(diner.id)


def test_a_taste_mark_needs_no_notes_but_a_top_5_place_does(api, town, diner, auth):
    dish = town["laksas"][0]
    for body in ({"position": 1}, {"position": 1, "notes": "   "}):
        response = api.put(dish_url(dish.id), json=body, headers=auth)
        assert response.status_code == 422, body
        assert problem(response)["detail"] == NEEDS_NOTE
    assert db.session.scalar(select(Ranking).where(Ranking.user_id == diner.id)) is None

    marked = api.put(dish_url(dish.id), json={"status": "acceptable"}, headers=auth)
    assert marked.status_code == 200
    assert marked.get_json()["list"]["tried"][0]["notes"] == ""
    # Still no notes on it: promoting it to the top 5 needs some.
    assert api.put(dish_url(dish.id), json={"position": 1}, headers=auth).status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "position"),
        ({"notes": "Great"}, "position"),
        ({"position": 1, "status": "acceptable", "notes": "x"}, "position"),
        ({"position": 0, "notes": "x"}, "position"),
        ({"position": 6, "notes": "x"}, "position"),
        ({"position": "1", "notes": "x"}, "position"),
        ({"position": 1.5, "notes": "x"}, "position"),
        ({"position": True, "notes": "x"}, "position"),
        ({"position": None, "notes": "x"}, "position"),
        ({"position": 2**70, "notes": "x"}, "position"),
        ({"status": "meh"}, "status"),
        ({"status": ["acceptable"]}, "status"),
        ({"status": "acceptable", "notes": "x" * 501}, "notes"),
        ({"status": "acceptable", "notes": "bad\x00byte"}, "notes"),
        ({"status": "acceptable", "notes": "\ud800"}, "notes"),
        ({"status": "acceptable", "notes": 5}, "notes"),
        ({"status": "acceptable", "photo": 1}, "photo"),
        ({"status": "acceptable", "photo_id": 1}, "photo_id"),
        ({"position": 1, "notes": "x", "photo_id": "1"}, "photo_id"),
        ({"position": 1, "notes": "x", "photo_id": 0}, "photo_id"),
        ({"position": 1, "notes": "x", "photo_id": -3}, "photo_id"),
        ({"position": 1, "notes": "x", "photo_id": 2**63}, "photo_id"),
        ({"position": 1, "notes": "x", "photo_id": None}, "photo_id"),
        ({"position": 1, "notes": "x", "photo_id": 1.0}, "photo_id"),
        ({"photo_id": 1}, "position"),
        ([{"position": 1}], "_schema"),
    ],
)
def test_bad_bodies_are_422_with_the_field_named(api, town, diner, auth, body, field):
    response = api.put(dish_url(town["laksas"][0].id), json=body, headers=auth)
    assert response.status_code == 422, response.get_json()
    assert field in problem(response)["errors"]
    assert db.session.scalar(select(Ranking).where(Ranking.user_id == diner.id)) is None


def test_bodies_that_are_not_json_objects(api, town, auth):
    url = dish_url(town["laksas"][0].id)
    empty = api.put(url, headers=auth)
    assert empty.status_code == 422
    assert "exactly one of position" in problem(empty)["detail"]
    form = api.put(url, data="position=1", headers=auth, content_type="text/plain")
    assert form.status_code == 422
    broken = api.put(url, data="{position: 1", headers=auth, content_type="application/json")
    assert broken.status_code == 400
    problem(broken)


def test_unknown_and_closed_dishes_are_404(api, town, auth):
    closed = DishFactory(restaurant=RestaurantFactory(is_active=False), dish_type=town["laksa"])
    for dish_id in (closed.id, 987_654_321, 2**62, 2**64):
        response = api.put(dish_url(dish_id), json={"status": "acceptable"}, headers=auth)
        assert response.status_code == 404, dish_id
        problem(response)


def test_a_dish_without_a_dish_type_cannot_be_ranked(api, town, diner, auth):
    drink = DishFactory(restaurant=town["laksas"][0].restaurant, dish_type=None, name="Teh Tarik")
    for body in ({"position": 1, "notes": "Frothy"}, {"status": "acceptable"}):
        response = api.put(dish_url(drink.id), json=body, headers=auth)
        assert response.status_code == 422
        assert problem(response)["detail"] == (
            "Teh Tarik isn't a dish type diners rank (drinks and sides aren't)."
        )
    assert actions(diner.id) == []


def test_removing_a_dish_closes_the_gap(api, town, diner, auth):
    laksas = town["laksas"]
    for n, dish in enumerate(laksas[:3], start=1):
        services.place(diner.id, dish, n, notes=f"Number {n}")
    services.mark(diner.id, town["satay_dish"], "acceptable")

    response = api.delete(dish_url(laksas[0].id), headers=auth)

    assert response.status_code == 204
    assert response.get_data() == b""
    listed = api.get(LAKSA, headers=auth)
    assert response.headers["ETag"] == listed.headers["ETag"]
    assert ranked_ids(listed.get_json()) == [laksas[1].id, laksas[2].id]
    assert [e["position"] for e in listed.get_json()["ranked"]] == [1, 2]
    assert ("removed", laksas[0].id, 1, None) in actions(diner.id)

    assert api.delete(dish_url(town["satay_dish"].id), headers=auth).status_code == 204
    assert [g["dish_type"]["slug"] for g in api.get(ALL, headers=auth).get_json()["lists"]] == [
        "laksa"
    ]
    for dish_id in (laksas[0].id, laksas[5].id, 987_654_321, 2**62):
        gone = api.delete(dish_url(dish_id), headers=auth)
        assert gone.status_code == 404, dish_id
        assert "isn't in your rankings" in problem(gone)["detail"]
    # Past bigint the URL matches no route: still a 404 (not a 405 from the PUT on it).
    assert api.delete(dish_url(2**64), headers=auth).status_code == 404


def test_a_ranked_dish_of_a_closed_restaurant_can_still_be_removed(api, town, diner, auth):
    dish = town["laksas"][0]
    services.place(diner.id, dish, 1, notes="Gone now")
    dish.restaurant.is_active = False
    db.session.flush()
    assert api.put(dish_url(dish.id), json={"position": 1}, headers=auth).status_code == 404
    assert api.delete(dish_url(dish.id), headers=auth).status_code == 204


def test_a_stale_if_match_changes_nothing_and_says_to_fetch_again(api, town, diner, auth):
    laksas = town["laksas"]
    services.place(diner.id, laksas[0], 1, notes="First")
    seen = api.get(LAKSA, headers=auth).headers["ETag"]
    services.place(diner.id, laksas[1], 1, notes="Changed elsewhere")

    stale = api.put(
        dish_url(laksas[2].id),
        json={"position": 1, "notes": "Late"},
        headers={**auth, "If-Match": seen},
    )
    assert stale.status_code == 412
    assert "GET the list again" in problem(stale)["detail"]
    gone = api.delete(dish_url(laksas[0].id), headers={**auth, "If-Match": seen})
    assert gone.status_code == 412
    problem(gone)
    assert ranked_ids(api.get(LAKSA, headers=auth).get_json()) == [laksas[1].id, laksas[0].id]

    current = api.get(LAKSA, headers=auth).headers["ETag"]
    fresh = api.put(
        dish_url(laksas[2].id),
        json={"position": 1, "notes": "On time", "photo_id": PhotoFactory(uploader_id=diner.id).id},
        headers={**auth, "If-Match": current},
    )
    assert fresh.status_code == 200
    # The answer's ETag is the next If-Match; the old one is now stale too.
    assert (
        api.delete(dish_url(laksas[2].id), headers={**auth, "If-Match": current}).status_code == 412
    )
    assert (
        api.delete(
            dish_url(laksas[2].id), headers={**auth, "If-Match": fresh.headers["ETag"]}
        ).status_code
        == 204
    )
    assert api.delete(dish_url(laksas[1].id), headers={**auth, "If-Match": "*"}).status_code == 204


def test_other_lists_do_not_make_an_if_match_stale(api, town, diner, auth, photo):
    laksa_etag = api.get(LAKSA, headers=auth).headers["ETag"]
    services.place(diner.id, town["satay_dish"], 1, notes="Smoky")
    response = api.put(
        dish_url(town["laksas"][0].id),
        json={"position": 1, "notes": "x", "photo_id": photo.id},
        headers={**auth, "If-Match": laksa_etag},
    )
    assert response.status_code == 200


def test_another_diners_token_neither_sees_nor_changes_my_rankings(api, town, diner, token_for):
    dish = town["laksas"][0]
    services.place(diner.id, dish, 1, notes="Mine")
    other = UserFactory()
    theirs = token_for(other)

    assert api.get(ALL, headers=theirs).get_json() == {"lists": []}
    assert api.get(LAKSA, headers=theirs).get_json()["ranked"] == []
    assert api.delete(dish_url(dish.id), headers=theirs).status_code == 404
    placed = api.put(dish_url(dish.id), json={"status": "dissatisfied"}, headers=theirs)
    assert placed.status_code == 200

    mine = db.session.scalar(select(Ranking).where(Ranking.user_id == diner.id))
    assert (mine.dish_id, mine.position, mine.taste_status) == (dish.id, 1, None)
    assert actions(diner.id) == [("ranked", dish.id, None, 1)]
    assert [e["status"] for e in api.get(LAKSA, headers=theirs).get_json()["tried"]] == [
        "dissatisfied"
    ]


def test_a_database_conflict_is_a_409_not_a_500(api, town, diner, auth, photo, monkeypatch):
    def collide(*_args, **_kwargs):
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    monkeypatch.setattr(services, "place", collide)
    response = api.put(
        dish_url(town["laksas"][0].id),
        json={"position": 1, "notes": "x", "photo_id": photo.id},
        headers=auth,
    )
    assert response.status_code == 409
    assert problem(response)["detail"] == COLLIDED


def test_a_ranking_error_from_the_services_is_a_409_with_its_reason(api, town, auth, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise services.RankingError("It can't move further that way.")

    monkeypatch.setattr(services, "mark", refuse)
    response = api.put(dish_url(town["laksas"][0].id), json={"status": "acceptable"}, headers=auth)
    assert response.status_code == 409
    assert problem(response)["detail"] == "It can't move further that way."


# --- the photo a top-5 place needs, as on the website ---------------------------------------


def test_a_new_top_5_place_needs_a_photo_but_a_taste_mark_does_not(api, town, diner, auth):
    dish = town["laksas"][0]
    refused = api.put(dish_url(dish.id), json={"position": 1, "notes": "Great"}, headers=auth)
    assert refused.status_code == 422
    detail = problem(refused)["detail"]
    assert detail.startswith(NEEDS_PHOTO)
    assert "POST /api/v1/me/photos" in detail
    assert db.session.scalar(select(Ranking).where(Ranking.user_id == diner.id)) is None

    marked = api.put(dish_url(dish.id), json={"status": "second_chance"}, headers=auth)
    assert marked.status_code == 200
    assert marked.get_json()["list"]["tried"][0]["photo"] is None
    # Tried, but never ranked with a photo: promoting it to the top 5 needs one.
    promoted = api.put(dish_url(dish.id), json={"position": 1, "notes": "Better"}, headers=auth)
    assert problem(promoted)["detail"].startswith(NEEDS_PHOTO)
    assert db.session.scalar(select(Ranking.taste_status).where(Ranking.dish_id == dish.id)) == (
        "second_chance"
    )


def test_a_photo_uploaded_through_the_api_ranks_a_dish(api, town, diner, auth):
    dish = town["laksas"][0]
    upload = api.post(
        "/api/v1/me/photos",
        data={"photo": (io.BytesIO(plain_jpeg((320, 240))), "laksa.jpg")},
        headers=auth,
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201, upload.get_json()
    photo_id = upload.get_json()["id"]

    response = api.put(
        dish_url(dish.id),
        json={"position": 1, "notes": "Cockles!", "photo_id": photo_id},
        headers=auth,
    )

    assert response.status_code == 200, response.get_json()
    entry = response.get_json()["list"]["ranked"][0]
    assert entry["photo"] == upload.get_json()["url"] == upload.headers["Location"]
    assert api.get(LAKSA, headers=auth).get_json()["ranked"][0]["photo"] == entry["photo"]
    assert (
        api.get(ALL, headers=auth).get_json()["lists"][0]["ranked"][0]["photo"] == (entry["photo"])
    )
    served = api.get(entry["photo"])
    assert (served.status_code, served.content_type) == (200, "image/jpeg")
    ranking = db.session.scalar(select(Ranking).where(Ranking.user_id == diner.id))
    assert (ranking.position, ranking.photo_id) == (1, photo_id)
    assert alt_text(photo_id) == "Laksa 0"


def test_a_photo_must_be_one_of_the_callers_own(api, town, diner, auth):
    dish = town["laksas"][0]
    theirs = PhotoFactory(uploader_id=UserFactory().id)
    for photo_id, detail in (
        (theirs.id, NOT_YOUR_PHOTO),
        (theirs.id + 1000, f"There's no photo {theirs.id + 1000}"),
        (2**63 - 1, "There's no photo"),
    ):
        response = api.put(
            dish_url(dish.id),
            json={"position": 1, "notes": "Mine?", "photo_id": photo_id},
            headers=auth,
        )
        assert response.status_code == 422, photo_id
        assert problem(response)["detail"].startswith(detail)
    assert db.session.scalar(select(Ranking).where(Ranking.user_id == diner.id)) is None
    # Someone else's photo can't replace the one a ranking has either.
    place_with_photo(diner.id, dish, 1, "Mine")
    before = db.session.scalar(select(Ranking.photo_id).where(Ranking.dish_id == dish.id))
    response = api.put(dish_url(dish.id), json={"position": 1, "photo_id": theirs.id}, headers=auth)
    assert problem(response)["detail"] == NOT_YOUR_PHOTO
    assert db.session.scalar(select(Ranking.photo_id).where(Ranking.dish_id == dish.id)) == before


def test_a_photographed_ranking_moves_without_a_new_photo_and_can_get_another(
    api, town, diner, auth
):
    laksas = town["laksas"]
    place_with_photo(diner.id, laksas[0], 1, "First")
    place_with_photo(diner.id, laksas[1], 2, "Second")
    first_photo = db.session.scalar(select(Ranking.photo_id).where(Ranking.dish_id == laksas[1].id))
    seen = api.get(LAKSA, headers=auth).headers["ETag"]

    moved = api.put(dish_url(laksas[1].id), json={"position": 1}, headers=auth)
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["list"]["ranked"][0]["photo"] == photo_url(first_photo)

    newer = PhotoFactory(uploader_id=diner.id, alt_text="The bowl, from above")
    replaced = api.put(
        dish_url(laksas[1].id),
        json={"position": 1, "photo_id": newer.id},
        headers={**auth, "If-Match": moved.headers["ETag"]},
    )
    assert replaced.status_code == 200, replaced.get_json()
    body = replaced.get_json()
    assert body["list"]["ranked"][0]["photo"] == photo_url(newer.id)
    assert len({seen, moved.headers["ETag"], replaced.headers["ETag"]}) == 3  # photos count
    assert alt_text(newer.id) == "The bowl, from above"  # kept as sent
    assert ("updated", laksas[1].id, 1, 1) in actions(diner.id)

    # Marked and ranked again: the photo stayed on the ranking, so none is needed.
    assert (
        api.put(dish_url(laksas[1].id), json={"status": "acceptable"}, headers=auth).status_code
        == 200
    )
    again = api.put(dish_url(laksas[1].id), json={"position": 1}, headers=auth)
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["list"]["ranked"][0]["photo"] == photo_url(newer.id)


def test_the_document_shows_tokens_if_match_and_412(api):
    spec = api.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/me/rankings", "/api/v1/me/rankings/{type_slug}"):
        assert spec["paths"][path]["get"]["security"] == [{"bearerAuth": []}]
    item = spec["paths"]["/api/v1/me/rankings/dishes/{dish_id}"]
    for method in ("put", "delete"):
        stale = item[method]["responses"]["412"]
        assert stale["description"] == ERROR_DESCRIPTIONS[412]
        assert "application/problem+json" in stale["content"]
        assert "409" in item[method]["responses"]
        assert any(p["name"] == "If-Match" for p in item[method]["parameters"])
    body = item["put"]["requestBody"]["content"]["application/json"]["schema"]
    args = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    assert args["properties"]["photo_id"]["type"] == "integer"
    entry = spec["components"]["schemas"]["Entry"]
    assert entry["properties"]["photo"]["nullable"] is True


# Racing requests need rows other connections can see: committed for real, deleted afterwards.


@pytest.fixture
def committed(app, redis_client):
    """A diner (with a token) and three laksas, committed; everything removed at the end."""
    with app.app_context():
        city = CityFactory()
        kind = DishTypeFactory()
        place = RestaurantFactory(city=city)
        dishes = [DishFactory(restaurant=place, dish_type=kind) for _ in range(3)]
        user = UserFactory()
        # One upload per dish, they go with the user (on delete cascade). With alt text: a PUT
        # filling in an empty one would lock the photo's row, and a racer waiting at the barrier
        # below would hold that lock against the other.
        photos = [PhotoFactory(uploader_id=user.id, alt_text="A bowl") for _ in dishes]
        db.session.commit()
        ids = {
            "user": user.id, "city": city.id, "kind": kind.id, "slug": kind.slug,
            "place": place.id, "dishes": [d.id for d in dishes],
            "photos": dict(zip([d.id for d in dishes], [p.id for p in photos], strict=True)),
        }  # fmt: skip
    try:
        with app.app_context():
            secret, _ = tokens.create(db.session.get(User, ids["user"]), "race", 30)
        yield ids, {"Authorization": f"Bearer {secret}"}
    finally:
        with app.app_context():
            db.session.execute(delete(User).where(User.id == ids["user"]))
            db.session.execute(delete(Restaurant).where(Restaurant.id == ids["place"]))
            db.session.execute(delete(DishType).where(DishType.id == ids["kind"]))
            db.session.execute(delete(City).where(City.id == ids["city"]))
            db.session.commit()


def race(app, calls):
    """Send each (url, body, headers) from its own thread and client; the responses in order."""
    results = [None] * len(calls)

    def send(index, url, body, headers):
        client = BrowserClient(app, app.response_class, use_cookies=False)
        response = client.put(url, json=body, headers=headers)
        results[index] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=send, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize(
    "second_dish",
    [
        pytest.param(1, id="two-dishes-for-#1"),  # the board locks deadlock: one is aborted
        pytest.param(0, id="the-same-dish"),  # one ranking per dish: a unique violation
    ],
)
def test_two_puts_racing_for_an_empty_list_give_one_200_and_one_409(
    app, committed, monkeypatch, second_dish
):
    ids, auth = committed
    both_inserted = threading.Barrier(2, timeout=20)
    original = services._refresh

    def refresh_after_both_inserted(dish_ids):
        both_inserted.wait()  # each has locked the (empty) list and added its row at #1
        return original(dish_ids)

    monkeypatch.setattr(services, "_refresh", refresh_after_both_inserted)
    first, second = ids["dishes"][0], ids["dishes"][second_dish]
    photos = ids["photos"]
    results = race(app, [
        (dish_url(first), {"position": 1, "notes": "Mine first", "photo_id": photos[first]}, auth),
        (dish_url(second), {"position": 1, "notes": "No, mine", "photo_id": photos[second]}, auth),
    ])  # fmt: skip

    assert sorted(status for status, _ in results) == [200, 409], results
    conflict = next(body for status, body in results if status == 409)
    assert conflict["detail"] == COLLIDED
    winner = next(body for status, body in results if status == 200)
    with app.app_context():
        rows = db.session.execute(
            select(Ranking.dish_id, Ranking.position).where(Ranking.user_id == ids["user"])
        ).all()
        assert [tuple(row) for row in rows] == [(winner["change"]["dish"]["id"], 1)]
        assert [(e.action, d.id) for e, d in history_for(ids["user"])] == [
            ("ranked", winner["change"]["dish"]["id"])
        ]


def test_puts_racing_for_a_list_with_rows_wait_for_each_other(app, committed):
    ids, auth = committed
    first, second, third = ids["dishes"]
    client = BrowserClient(app, app.response_class, use_cookies=False)
    photos = ids["photos"]
    seeded = client.put(
        dish_url(first), json={"position": 1, "notes": "x", "photo_id": photos[first]}, headers=auth
    )
    assert seeded.status_code == 200

    results = race(app, [
        (dish_url(second), {"position": 1, "notes": "Second", "photo_id": photos[second]}, auth),
        (dish_url(third), {"position": 1, "notes": "Third", "photo_id": photos[third]}, auth),
    ])  # fmt: skip

    assert [status for status, _ in results] == [200, 200], results
    listed = client.get(f"/api/v1/me/rankings/{ids['slug']}", headers=auth).get_json()
    assert [e["position"] for e in listed["ranked"]] == [1, 2, 3]
    assert sorted(ranked_ids(listed)) == sorted(ids["dishes"])
    assert ranked_ids(listed)[2] == first
