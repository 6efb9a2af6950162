"""Open-now logic: split shifts, past-midnight intervals, 24 hours, closures, time zones."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from bellyfed.restaurants.hours import local_now, open_state, week_table


@dataclass
class H:
    weekday: int
    opens_at: time
    closes_at: time


@dataclass
class C:
    starts_on: date
    ends_on: date
    reason: str = "Holiday"


# 2026-11-27 is a Friday (weekday 4).
FRI = date(2026, 11, 27)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm)


SPLIT = [H(4, time(11), time(15)), H(4, time(17, 30), time(22))]


def test_split_shift_open_in_each_half_and_closed_between():
    assert open_state(SPLIT, [], at(FRI, 12)).is_open
    state = open_state(SPLIT, [], at(FRI, 16))
    assert not state.is_open
    assert state.changes_at == at(FRI, 17, 30)
    assert open_state(SPLIT, [], at(FRI, 21, 59)).is_open
    assert not open_state(SPLIT, [], at(FRI, 22)).is_open  # closing time is exclusive


def test_past_midnight_interval_counts_on_the_next_morning():
    late = [H(4, time(18), time(2))]
    saturday_1am = at(date(2026, 11, 28), 1)
    state = open_state(late, [], saturday_1am)
    assert state.is_open
    assert state.changes_at == at(date(2026, 11, 28), 2)
    assert not open_state(late, [], at(date(2026, 11, 28), 2, 30)).is_open


def test_until_midnight_and_around_the_clock():
    assert open_state([H(4, time(18), time(0))], [], at(FRI, 23, 59)).is_open
    always = [H(d, time(0), time(0)) for d in range(7)]
    state = open_state(always, [], at(FRI, 3))
    assert state.is_open


def test_special_closure_wins_over_weekly_hours():
    state = open_state(SPLIT, [C(FRI, FRI, "Renovation")], at(FRI, 12))
    assert not state.is_open
    assert state.closed_for == "Renovation"


def test_no_hours_means_closed_with_no_next_opening():
    state = open_state([], [], at(FRI, 12))
    assert not state.is_open
    assert state.changes_at is None


def test_local_time_follows_the_restaurants_zone():
    instant = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)  # 00:30 Saturday in Kuala Lumpur
    assert local_now("Asia/Kuala_Lumpur", instant) == datetime(2026, 11, 28, 0, 30)
    late = [H(4, time(18), time(2))]
    assert open_state(late, [], local_now("Asia/Kuala_Lumpur", instant)).is_open
    assert not open_state(
        late, [], local_now("Europe/London", instant)
    ).is_open  # 16:30 Friday there


def test_week_table_lists_every_day_in_order():
    table = week_table([H(2, time(9), time(12)), *SPLIT])
    assert [day for day, _ in table] == [0, 1, 2, 3, 4, 5, 6]
    assert [h.opens_at for h in table[4][1]] == [time(11), time(17, 30)]
    assert table[0][1] == []
