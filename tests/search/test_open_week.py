"""restaurants.open_week (migration 0007) says open exactly when the opening hours do."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select, text

from bellyfed.restaurants.hours import open_state
from bellyfed.restaurants.models import OperatingHours, Restaurant
from tests.factories import OperatingHoursFactory, RestaurantFactory

MONDAY = datetime(2026, 11, 23)  # a Monday, 00:00
SCHEDULES = {
    "split shifts": [(d, time(11), time(15)) for d in range(6)]
    + [(d, time(17, 30), time(22)) for d in range(6)],
    "past midnight, Sunday into Monday": [(6, time(18)), (2, time(18))],
    "until midnight": [(4, time(18), time(0))],
    "around the clock on Saturday": [(5, time(0), time(0))],
    "closed all week": [],
}


def make(schedule: list[tuple]) -> Restaurant:
    restaurant = RestaurantFactory()
    for weekday, opens, *closes in schedule:
        OperatingHoursFactory(restaurant=restaurant, weekday=weekday, opens_at=opens,
                              closes_at=closes[0] if closes else time(2))  # fmt: skip
    return restaurant


def open_in_sql(db_session, restaurant: Restaurant, minute: int) -> bool:
    return db_session.scalar(
        select(Restaurant.open_week.op("@>", is_comparison=True)(minute)).where(
            Restaurant.id == restaurant.id
        )
    )


def test_every_half_hour_of_the_week_agrees_with_the_hours(db_session):
    for name, schedule in SCHEDULES.items():
        restaurant = make(schedule)
        db_session.flush()
        db_session.expire(restaurant)
        hours = db_session.scalars(
            select(OperatingHours).where(OperatingHours.restaurant_id == restaurant.id)
        ).all()
        for step in range(7 * 48):
            moment = MONDAY + timedelta(minutes=30 * step)
            expected = open_state(hours, [], moment).is_open
            assert open_in_sql(db_session, restaurant, 30 * step) == expected, (name, moment)


def test_changed_and_removed_hours_change_the_week(db_session):
    restaurant = make([(0, time(9), time(17))])
    db_session.flush()
    assert open_in_sql(db_session, restaurant, 10 * 60)
    db_session.execute(text("UPDATE operating_hours SET opens_at = '12:00' WHERE restaurant_id = :r"),
                       {"r": restaurant.id})  # fmt: skip
    assert not open_in_sql(db_session, restaurant, 10 * 60)
    assert open_in_sql(db_session, restaurant, 13 * 60)
    db_session.execute(text("DELETE FROM operating_hours WHERE restaurant_id = :r"),
                       {"r": restaurant.id})  # fmt: skip
    assert not open_in_sql(db_session, restaurant, 13 * 60)
