"""The search documents' half hours (migration 0008): kept by triggers, and a text search "open now"
gives the same restaurants whether it starts from them (few candidates) or walks a sort index."""

from __future__ import annotations

import random
from datetime import time, timedelta

import pytest
from sqlalchemy import select, text
from werkzeug.datastructures import MultiDict

from bellyfed.restaurants.hours import local_now, open_state
from bellyfed.restaurants.models import Restaurant, restaurant_search_documents, search_timezones
from bellyfed.search import opening, queries
from bellyfed.search.params import parse
from tests.factories import (
    CityFactory,
    OperatingHoursFactory,
    RestaurantFactory,
    SpecialClosureFactory,
)
from tests.web import count_statements

ZONES = ("Asia/Kuala_Lumpur", "Europe/London", "America/New_York", "Pacific/Auckland")


def slots_of(db_session, restaurant: Restaurant) -> set[int]:
    docs = restaurant_search_documents.c
    return set(
        db_session.scalar(select(docs.open_slots).where(docs.restaurant_id == restaurant.id))
    )


def zone_id(db_session, name: str) -> int:
    return db_session.scalar(select(search_timezones.c.id).where(search_timezones.c.name == name))


def test_a_documents_half_hours_follow_its_hours_and_time_zone(db_session):
    r = RestaurantFactory(timezone="Asia/Kuala_Lumpur")
    db_session.flush()
    assert slots_of(db_session, r) == set()
    # Tuesday 11:15-12:00 touches the half hours 11:00 and 11:30; Sunday 23:45 into Monday 00:20
    # touches Sunday 23:30 (the week's last) and Monday 00:00 (its first).
    OperatingHoursFactory(restaurant=r, weekday=1, opens_at=time(11, 15), closes_at=time(12))
    OperatingHoursFactory(restaurant=r, weekday=6, opens_at=time(23, 45), closes_at=time(0, 20))
    db_session.flush()
    kl = zone_id(db_session, "Asia/Kuala_Lumpur")
    assert slots_of(db_session, r) == {kl * 336 + s for s in (48 + 22, 48 + 23, 335, 0)}
    r.timezone = "Europe/London"
    db_session.flush()
    london = zone_id(db_session, "Europe/London")
    assert london != kl
    assert slots_of(db_session, r) == {london * 336 + s for s in (70, 71, 335, 0)}
    db_session.execute(text("DELETE FROM operating_hours WHERE restaurant_id = :r"), {"r": r.id})
    assert slots_of(db_session, r) == set()


def test_time_zones_past_the_97th_number_their_half_hours_without_overflow(db_session):
    """search_timezones.id is a smallint; id * 336 must be worked out as an integer."""
    db_session.execute(text("INSERT INTO search_timezones (id, name) VALUES (30000, 'Asia/Tokyo')"))
    now = local_now("Asia/Tokyo")
    r = RestaurantFactory(name="Laksa Tokyo", timezone="Asia/Tokyo", city=CityFactory(slug="tokyo"))
    OperatingHoursFactory(restaurant=r, weekday=now.weekday(), opens_at=time(0),
                          closes_at=time(0))  # fmt: skip
    db_session.flush()
    half_hour = now.weekday() * 48 + now.hour * 2 + now.minute // 30
    assert 30000 * 336 + half_hour in slots_of(db_session, r)
    params = parse(MultiDict({"q": "laksa", "city": "tokyo", "open_now": "1"}))
    assert [card.name for card in queries.search(params).restaurants] == ["Laksa Tokyo"]


def test_a_document_made_again_gets_the_half_hours_at_once(db_session):
    r = RestaurantFactory()
    OperatingHoursFactory(restaurant=r, weekday=0, opens_at=time(9), closes_at=time(9, 30))
    db_session.flush()
    before = slots_of(db_session, r)
    assert len(before) == 1
    db_session.execute(text("DELETE FROM restaurant_search_documents WHERE restaurant_id = :r"),
                       {"r": r.id})  # fmt: skip
    db_session.execute(text("SELECT refresh_search_documents(ARRAY[:r]::bigint[])"), {"r": r.id})
    assert slots_of(db_session, r) == before


def _random_world(db_session, seed: int) -> list[Restaurant]:
    """Restaurants named for laksa in four time zones, with hours around each one's now, some past
    midnight, some around the clock, some closed today for a holiday."""
    rng = random.Random(seed)
    city = CityFactory(slug="penang")
    made = []
    for n in range(60):
        zone = ZONES[n % len(ZONES)]
        now = local_now(zone)
        r = RestaurantFactory(name=f"Laksa Stall {n}", city=city, timezone=zone,
                              ranking_points=rng.randint(0, 50))  # fmt: skip
        for _ in range(rng.randint(0, 3)):
            start = now + timedelta(minutes=rng.randint(-24 * 60, 12 * 60))
            length = timedelta(minutes=rng.choice([20, 45, 90, 240, 600]))
            opens = time(start.hour, start.minute)
            closes = (start + length).time().replace(second=0, microsecond=0)
            if opens == closes:
                continue
            OperatingHoursFactory(restaurant=r, weekday=start.weekday(), opens_at=opens,
                                  closes_at=closes)  # fmt: skip
        if rng.random() < 0.15:
            SpecialClosureFactory(restaurant=r, starts_on=now.date(), ends_on=now.date())
        made.append(r)
    RestaurantFactory(name="Nasi Kandar", city=city)  # no text match
    db_session.flush()
    db_session.expire_all()
    return made


def all_pages(args: dict, page_size: int = 7) -> list[int]:
    """Every result, following the cursors page by page."""
    ids, cursor = [], None
    while True:
        params = parse(MultiDict({**args, **({"cursor": cursor} if cursor else {})}))
        page = queries.search(params, page_size=page_size)
        assert all(card.is_open for card in page.restaurants)
        ids += [card.id for card in page.restaurants]
        if not (cursor := page.next_cursor):
            return ids


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_open_now_text_search_agrees_with_the_hours_either_way(db_session, monkeypatch, seed):
    """From the candidates or by the walk: the same pages, page after page, with filters, and
    exactly the restaurants the hours say are open."""
    made = _random_world(db_session, seed)
    made[0].is_active = False
    for r in made[::3]:
        r.price_level = 3
    db_session.flush()
    for args in (
        {"q": "laksa", "city": "penang", "open_now": "1"},
        {"q": "laksa", "city": "penang", "open_now": "1", "price": "3"},
        {"q": "laksa", "open_now": "1", "sort": "newest"},
    ):
        expected = {
            r.id for r in made if r.is_active and (r.price_level == 3 or "price" not in args)
            and open_state(r.hours, r.closures, local_now(r.timezone)).is_open
        }  # fmt: skip
        results = {}
        for few in (1000, 0):  # from the candidates, then by the sort-index walk
            monkeypatch.setattr(opening, "FEW_OPEN_MATCHES", few)
            with count_statements() as statements:
                results[few] = all_pages(args)
            assert any("open_slots &&" in s for s in statements)  # the candidates are asked first
        assert set(results[1000]) == expected, args
        assert results[1000] == results[0], args  # same restaurants, same order
    assert 0 < len(expected) < len(made)  # the world has both, so the filter is tested


def test_at_a_busy_half_hour_the_candidates_are_not_asked(db_session, monkeypatch):
    made = _random_world(db_session, 5)
    db_session.execute(text("ANALYZE restaurants, restaurant_search_documents"))
    args = {"q": "laksa", "city": "penang", "open_now": "1"}
    monkeypatch.setattr(opening, "BUSY_HALF_HOUR", 0.0)  # every half hour is busy
    assert opening.busy("Asia/Kuala_Lumpur")
    with count_statements() as statements:
        walked = all_pages(args)
    assert not any("open_slots &&" in s for s in statements)
    monkeypatch.setattr(opening, "BUSY_HALF_HOUR", 1.01)  # none is
    assert not opening.busy("Asia/Kuala_Lumpur")
    assert all_pages(args) == walked
    assert set(walked) == {
        r.id for r in made if open_state(r.hours, r.closures, local_now(r.timezone)).is_open
    }


def test_a_time_zone_without_statistics_is_never_busy(db_session, monkeypatch):
    monkeypatch.setattr(opening, "BUSY_HALF_HOUR", 0.0)
    assert not opening.busy("Antarctica/Troll")  # no restaurant there, so no statistics


def test_many_candidates_fall_back_to_the_walk(db_session, monkeypatch):
    _random_world(db_session, 4)
    monkeypatch.setattr(opening, "FEW_OPEN_MATCHES", 0)
    term_ids = queries.matching_terms("laksa")
    candidates = opening.candidates("laksa", term_ids, None)
    opening_now = db_session.scalar(
        select(restaurant_search_documents.c.restaurant_id)
        .where(restaurant_search_documents.c.open_slots.overlap(opening.half_hours_now()))
        .limit(1)
    )
    # With any restaurant opening in this half hour, more than 0 candidates: no list, walk.
    assert candidates is None if opening_now is not None else candidates == []
