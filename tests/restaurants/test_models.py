"""Restaurant, city, cuisine and hours constraints."""

from datetime import date, time

import pytest
from sqlalchemy import select, text

from bellyfed.restaurants.models import OperatingHours
from tests.factories import (
    CityFactory,
    CuisineFactory,
    DishFactory,
    OperatingHoursFactory,
    RestaurantFactory,
    SpecialClosureFactory,
)
from tests.helpers import violates


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("latitude", 90.5, "ck_restaurants_latitude_range"),
        ("latitude", -91, "ck_restaurants_latitude_range"),
        ("longitude", 180.01, "ck_restaurants_longitude_range"),
        ("price_level", 0, "ck_restaurants_price_level_range"),
        ("price_level", 5, "ck_restaurants_price_level_range"),
        ("slug", "Not A Slug", "ck_restaurants_slug_format"),
        ("slug", "trailing-", "ck_restaurants_slug_format"),
        ("name", "   ", "ck_restaurants_name_not_blank"),
        ("website", "javascript:alert(1)", "ck_restaurants_website_http"),
        ("email", "not-an-email", "ck_restaurants_email_shape"),
    ],
)
def test_bad_restaurant_values_are_refused(db_session, field, value, constraint):
    with violates(constraint):
        RestaurantFactory(**{field: value})


def test_restaurant_slugs_are_unique(db_session):
    RestaurantFactory(slug="nasi-lemak-wanjo")
    with violates("uq_restaurants_slug"):
        RestaurantFactory(slug="nasi-lemak-wanjo")


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("country_code", "my", "ck_cities_country_code_iso"),
        ("latitude", 123, "ck_cities_latitude_range"),
        ("longitude", -200, "ck_cities_longitude_range"),
        ("slug", "Kuala Lumpur", "ck_cities_slug_format"),
    ],
)
def test_bad_city_values_are_refused(db_session, field, value, constraint):
    with violates(constraint):
        CityFactory(**{field: value})


def test_cuisine_names_are_unique(db_session):
    CuisineFactory(name="Malay")
    with violates("uq_cuisines_name"):
        CuisineFactory(name="Malay")


@pytest.mark.parametrize("weekday", [-1, 7])
def test_weekday_outside_monday_to_sunday_is_refused(db_session, weekday):
    with violates("ck_operating_hours_weekday_range"):
        OperatingHoursFactory(weekday=weekday)


def test_hours_must_be_whole_minutes(db_session):
    with violates("ck_operating_hours_opens_whole_minute"):
        OperatingHoursFactory(opens_at=time(10, 0, 30))


def test_split_shifts_and_past_midnight_intervals_are_stored(db_session):
    restaurant = RestaurantFactory()
    lunch = OperatingHoursFactory(
        restaurant=restaurant, weekday=4, opens_at=time(11), closes_at=time(15)
    )
    late = OperatingHoursFactory(
        restaurant=restaurant, weekday=4, opens_at=time(18), closes_at=time(2)
    )
    around = OperatingHoursFactory(
        restaurant=restaurant, weekday=5, opens_at=time(0), closes_at=time(0)
    )
    assert not lunch.crosses_midnight
    assert late.crosses_midnight
    assert around.crosses_midnight  # equal times: a full day
    db_session.expire_all()
    assert [(h.weekday, h.opens_at) for h in restaurant.hours] == [
        (4, time(11)),
        (4, time(18)),
        (5, time(0)),
    ]


def test_two_intervals_cannot_start_at_the_same_time_on_one_day(db_session):
    restaurant = RestaurantFactory()
    OperatingHoursFactory(restaurant=restaurant, weekday=1, opens_at=time(9))
    with violates("uq_operating_hours_restaurant_id_weekday_opens_at"):
        OperatingHoursFactory(
            restaurant=restaurant, weekday=1, opens_at=time(9), closes_at=time(23)
        )


def test_closure_cannot_end_before_it_starts(db_session):
    with violates("ck_special_closures_date_order"):
        SpecialClosureFactory(starts_on=date(2027, 2, 9), ends_on=date(2027, 2, 6))


def test_a_city_with_restaurants_cannot_be_deleted(db_session):
    restaurant = RestaurantFactory()
    with violates("fk_restaurants_city_id_cities"):
        db_session.execute(text("DELETE FROM cities WHERE id = :c"), {"c": restaurant.city_id})


def test_deleting_a_restaurant_removes_its_hours_dishes_and_cuisine_links(db_session):
    restaurant = RestaurantFactory(cuisines=[CuisineFactory()])
    OperatingHoursFactory(restaurant=restaurant)
    dish = DishFactory(restaurant=restaurant)
    db_session.execute(text("DELETE FROM restaurants WHERE id = :r"), {"r": restaurant.id})
    assert (
        db_session.scalar(
            select(OperatingHours).where(OperatingHours.restaurant_id == restaurant.id)
        )
        is None
    )
    assert db_session.scalar(text("SELECT count(*) FROM dishes WHERE id = :d"), {"d": dish.id}) == 0
    assert (
        db_session.scalar(
            text("SELECT count(*) FROM restaurant_cuisines WHERE restaurant_id = :r"),
            {"r": restaurant.id},
        )
        == 0
    )
