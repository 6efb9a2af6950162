"""The restaurant page: profile, hours, open state, contact, menu with standings, reviews."""

from datetime import time

from bellyfed.rankings import services as rankings
from bellyfed.restaurants.hours import local_now
from tests.factories import (
    CuisineFactory,
    DishFactory,
    DishTypeFactory,
    MenuCategoryFactory,
    OperatingHoursFactory,
    RestaurantFactory,
    ReviewFactory,
    UserFactory,
)
from tests.leaderboards.boards import run_queued_recomputes
from tests.web import count_statements, text


def make_restaurant(open_all_day: bool = True, cuisine: str = "Malay"):
    restaurant = RestaurantFactory(
        name="Nasi Lemak Wanjo", phone="+60 3-2692 0000", website="https://wanjo.example.com",
        cuisines=[CuisineFactory(name=cuisine)],
    )  # fmt: skip
    for weekday in range(7):
        if open_all_day:
            OperatingHoursFactory(
                restaurant=restaurant, weekday=weekday, opens_at=time(0), closes_at=time(0)
            )
    rice = MenuCategoryFactory(restaurant=restaurant, name="Rice", position=0)
    drinks = MenuCategoryFactory(restaurant=restaurant, name="Drinks", position=1)
    nasi_lemak = DishTypeFactory(name=f"Nasi Lemak{'' if cuisine == 'Malay' else ' ' + cuisine}")
    dishes = [
        DishFactory(restaurant=restaurant, menu_category=rice, dish_type=nasi_lemak, name="Nasi Lemak Ayam",
                    price_minor=1250, currency="MYR", dietary_tags=["halal"]),
        DishFactory(restaurant=restaurant, menu_category=rice, dish_type=nasi_lemak, name="Nasi Lemak Sotong",
                    price_minor=1400, currency="MYR"),
        DishFactory(restaurant=restaurant, menu_category=drinks, dish_type=None, name="Teh O Ais", price_minor=300),
    ]  # fmt: skip
    return restaurant, dishes


def test_the_page_shows_profile_contact_menu_and_prices(browser, db_session):
    restaurant, _ = make_restaurant()
    page = text(browser.get(f"/restaurants/{restaurant.slug}"))
    assert "Nasi Lemak Wanjo" in page
    # Contact links go through the click counter, which redirects (tests/analytics/test_events.py).
    for link in ("phone", "website", "directions"):
        assert f'href="/go/{restaurant.id}/{link}"' in page
    assert "Call +60 3-2692 0000" in page
    assert page.index(">Rice<") < page.index(">Drinks<")
    assert "RM 12.50" in page
    assert "halal" in page
    assert "Malay" in page


def test_open_now_badge_and_today_highlighted(browser, db_session):
    restaurant, _ = make_restaurant(open_all_day=True)
    page = text(browser.get(f"/restaurants/{restaurant.slug}"))
    assert '<span class="badge open">Open now</span>' in page
    today = local_now(restaurant.timezone).weekday()
    assert page.count('aria-current="date"') == 1
    assert ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"][
        today
    ] in page.split('aria-current="date"')[1][:200]
    assert "Open 24 hours" in page


def test_closed_without_hours(browser, db_session):
    restaurant, _ = make_restaurant(open_all_day=False)
    page = text(browser.get(f"/restaurants/{restaurant.slug}"))
    assert '<span class="badge closed">Closed</span>' in page


def test_each_dish_shows_its_standing_in_the_city_board(app, browser, db_session, redis_client):
    restaurant, dishes = make_restaurant()
    rankings.place(UserFactory().id, dishes[1], 1)
    rankings.place(UserFactory().id, dishes[0], 1)
    rankings.place(UserFactory().id, dishes[1], 1)
    db_session.commit()
    run_queued_recomputes(app, redis_client)  # what the worker does once the changes commit
    page = text(browser.get(f"/restaurants/{restaurant.slug}"))
    assert "#1 of 2</a> Nasi Lemak in" in page
    assert "#2 of 2</a> Nasi Lemak in" in page


def test_reviews_sort_by_helpfulness_or_date(browser, db_session):
    restaurant, _ = make_restaurant()
    ReviewFactory(restaurant_id=restaurant.id, title="Old but helpful", body="Great sambal")
    ReviewFactory(restaurant_id=restaurant.id, title="Newest one", body="Fine")
    helpful = text(browser.get(f"/restaurants/{restaurant.slug}?reviews=newest"))
    assert helpful.index("Newest one") < helpful.index("Old but helpful")
    fragment = browser.get(
        f"/restaurants/{restaurant.slug}?reviews=newest",
        headers={"HX-Request": "true", "HX-Target": "reviews"},
    )
    assert fragment.status_code == 200
    assert "<html" not in text(fragment)
    assert fragment.headers["Vary"] == "HX-Request" or "HX-Request" in fragment.headers["Vary"]


def test_unknown_restaurant_and_bad_sort_are_clear_4xx(browser, db_session):
    restaurant, _ = make_restaurant()
    missing = browser.get("/restaurants/no-such-place")
    assert missing.status_code == 404
    assert "couldn&#39;t find that restaurant" in text(
        missing
    ) or "couldn't find that restaurant" in text(missing)
    bad = browser.get(f"/restaurants/{restaurant.slug}?reviews=loudest")
    assert bad.status_code == 400
    assert "helpful" in text(bad)


def test_the_page_runs_a_fixed_number_of_statements(browser, db_session):
    """No N+1: ten dishes and ten reviews cost the same statements as one of each."""
    small, _ = make_restaurant()
    ReviewFactory(restaurant_id=small.id)
    with count_statements() as few:
        assert browser.get(f"/restaurants/{small.slug}").status_code == 200
    big, dishes = make_restaurant(cuisine="Mamak")
    for n in range(10):
        DishFactory(restaurant=big, dish_type=dishes[0].dish_type, name=f"Extra {n}")
        ReviewFactory(restaurant_id=big.id)
    with count_statements() as many:
        assert browser.get(f"/restaurants/{big.slug}").status_code == 200
    assert len(many) == len(few)
    assert len(many) <= 16, many


def test_reviews_are_paged(browser, db_session):
    from bellyfed.restaurants.stats import refresh_restaurant_stats

    restaurant, _ = make_restaurant()
    for n in range(23):
        ReviewFactory(restaurant_id=restaurant.id, title=f"Visit {n:02d}")
    refresh_restaurant_stats([restaurant.id])
    first = text(browser.get(f"/restaurants/{restaurant.slug}?reviews=newest"))
    assert first.count('class="review card"') == 20
    assert "Page 1 of 2" in first
    second = text(browser.get(f"/restaurants/{restaurant.slug}?reviews=newest&page=2"))
    assert second.count('class="review card"') == 3
    assert browser.get(f"/restaurants/{restaurant.slug}?page=0").status_code == 400
