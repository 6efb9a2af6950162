"""Ranking from a dish card over HTTP: photo and notes required, clear errors, my pages."""

import io
import logging

import pytest
from sqlalchemy import select

from bellyfed.leaderboards import updates
from bellyfed.rankings.models import Ranking
from tests.factories import DishFactory, DishTypeFactory, RankingFactory, UserFactory
from tests.leaderboards.boards import queued_boards, run_queued_recomputes, take_the_broker_down
from tests.photos.images import plain_jpeg
from tests.web import log_in, post, text


@pytest.fixture
def diner(browser, db_session):
    user = UserFactory()
    log_in(browser, user.username)
    return user


def photo(name="dish.jpg", data=None):
    return (io.BytesIO(data if data is not None else plain_jpeg((320, 240))), name)


def rank(browser, dish, choice, notes="Best sambal in town", with_photo=True, **extra):
    data = {"choice": choice, "notes": notes, "next": "/me/rankings", **extra}
    if with_photo:
        data["photo"] = photo()
    return post(browser, f"/dishes/{dish.id}/ranking", data, content_type="multipart/form-data")


def test_ranking_a_dish_with_notes_and_photo(browser, diner, db_session):
    dish = DishFactory(name="Nasi Lemak Ayam")
    response = rank(browser, dish, "1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/me/rankings"
    ranking = db_session.scalar(select(Ranking).where(Ranking.user_id == diner.id))
    assert (ranking.dish_id, ranking.position, ranking.notes) == (dish.id, 1, "Best sambal in town")
    assert ranking.photo_id is not None
    page = text(browser.get("/me/rankings"))
    assert "Nasi Lemak Ayam" in page
    assert "is #1 in your" in page


def test_the_city_board_shows_a_ranking_once_the_worker_has_run(
    app, browser, diner, db_session, redis_client
):
    dish = DishFactory(name="Nasi Lemak Ayam")
    board_page = f"/dishes/{dish.dish_type.slug}/{dish.restaurant.city.slug}"
    assert rank(browser, dish, "1").status_code == 302
    assert "is #1 in your" in text(browser.get("/me/rankings"))
    assert "top 5 yet" in text(browser.get(board_page))  # not computed in the request

    assert run_queued_recomputes(app, redis_client) == [
        (dish.dish_type_id, dish.restaurant.city_id)
    ]
    assert "Nasi Lemak Ayam" in text(browser.get(board_page))


def test_with_the_broker_down_a_ranking_still_saves(
    app, browser, diner, db_session, redis_client, monkeypatch, caplog
):
    dish = DishFactory(name="Nasi Lemak Ayam")
    take_the_broker_down(app, monkeypatch)
    with caplog.at_level(logging.ERROR, logger=updates.__name__):
        response = rank(browser, dish, "1")

    assert (response.status_code, response.headers["Location"]) == (302, "/me/rankings")
    assert "is #1 in your" in text(browser.get("/me/rankings"))
    ranking = db_session.scalar(select(Ranking).where(Ranking.user_id == diner.id))
    assert (ranking.dish_id, ranking.position) == (dish.id, 1)
    assert "the periodic recompute will catch up" in caplog.text
    assert queued_boards(redis_client) == []


@pytest.mark.parametrize(
    ("choice", "notes", "with_photo", "message"),
    [
        ("1", "", True, "Add a note"),
        ("1", "Great", False, "Add a photo of the dish"),
        ("6", "Great", True, "Not a valid choice"),
        ("best", "Great", True, "Not a valid choice"),
    ],
)
def test_bad_ranking_input_is_refused_and_nothing_changes(
    browser, diner, db_session, choice, notes, with_photo, message
):
    dish = DishFactory()
    response = rank(browser, dish, choice, notes=notes, with_photo=with_photo)
    assert response.status_code == 422
    assert message in text(response)
    assert db_session.scalar(select(Ranking).where(Ranking.user_id == diner.id)) is None


def test_a_non_image_photo_is_refused_with_its_reason(browser, diner, db_session):
    dish = DishFactory()
    data = {
        "choice": "1",
        "notes": "Great",
        "photo": photo("dish.jpg", b"<html><script>alert(1)</script></html>"),
    }
    response = post(browser, f"/dishes/{dish.id}/ranking", data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "field-error" in text(response)
    assert db_session.scalar(select(Ranking).where(Ranking.user_id == diner.id)) is None


def test_taste_status_needs_no_photo(browser, diner, db_session):
    dish = DishFactory()
    response = rank(browser, dish, "second_chance", notes="", with_photo=False)
    assert response.status_code == 302
    ranking = db_session.scalar(select(Ranking).where(Ranking.user_id == diner.id))
    assert (ranking.position, ranking.taste_status) == (None, "second_chance")


def test_reorder_with_htmx_swaps_the_list(browser, diner, db_session):
    dish_type = DishTypeFactory(name="Laksa")
    first, second = (
        DishFactory(dish_type=dish_type, name="Curry Laksa A"),
        DishFactory(dish_type=dish_type, name="Curry Laksa B"),
    )
    rank(browser, first, "1")
    rank(browser, second, "2")
    lower = db_session.scalar(
        select(Ranking).where(Ranking.user_id == diner.id, Ranking.dish_id == second.id)
    )
    response = post(browser, f"/me/rankings/{lower.id}/move", {"direction": "up"}, htmx=True)
    assert response.status_code == 200
    fragment = text(response)
    assert "<html" not in fragment
    assert fragment.index("Curry Laksa B") < fragment.index("Curry Laksa A")


def test_someone_elses_ranking_is_not_found_and_unchanged(browser, diner, db_session):
    theirs = RankingFactory(position=1)
    for action, data in (("move", {"direction": "down"}), ("remove", {})):
        response = post(browser, f"/me/rankings/{theirs.id}/{action}", data)
        assert response.status_code == 404
    db_session.expire_all()
    assert db_session.get(Ranking, theirs.id).position == 1


def test_history_shows_changes_and_recently_dropped(browser, diner, db_session):
    dish_type = DishTypeFactory()
    dishes = [DishFactory(dish_type=dish_type, name=f"Char Kway Teow {n}") for n in range(6)]
    for dish in dishes:
        rank(browser, dish, "1")
    page = text(browser.get("/me/rankings/history"))
    assert "Recently dropped" in page
    assert "Char Kway Teow 0" in page.split("All changes")[0]  # pushed off the bottom by #6


def test_pages_need_login(browser, db_session):
    response = browser.get("/me/rankings")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_ranking_a_drink_is_refused_before_any_upload(browser, diner, db_session):
    from bellyfed.photos.models import Photo

    drink = DishFactory(dish_type=None, name="Kopi O")
    response = rank(browser, drink, "1")
    assert response.status_code == 422
    assert "isn&#39;t a dish type diners rank" in text(response) or "isn't a dish type" in text(
        response
    )
    assert db_session.scalar(select(Photo.id)) is None


def test_an_impossible_move_shows_its_reason_in_the_swapped_list(browser, diner, db_session):
    dish = DishFactory()
    rank(browser, dish, "1")
    only = db_session.scalar(select(Ranking).where(Ranking.user_id == diner.id))
    response = post(browser, f"/me/rankings/{only.id}/move", {"direction": "up"}, htmx=True)
    assert response.status_code == 200
    assert "can&#39;t move further" in text(response) or "can't move further" in text(response)
