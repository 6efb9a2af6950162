"""Search against real rows: typo-tolerant text, filters, open now, distance, keyset pages."""

from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy import text as text_sql
from werkzeug.datastructures import MultiDict

from bellyfed.restaurants.hours import local_now, open_state
from bellyfed.restaurants.models import Restaurant
from bellyfed.search.params import parse
from bellyfed.search.queries import search
from tests.factories import (
    CityFactory,
    CuisineFactory,
    DishFactory,
    DishTypeFactory,
    OperatingHoursFactory,
    RestaurantFactory,
    SpecialClosureFactory,
)
from tests.web import count_statements, text


def names(page):
    return [r.name for r in page.restaurants]


def run(**kwargs):
    return search(parse(MultiDict(kwargs)))


def test_text_matches_restaurant_dish_type_dish_and_cuisine_names_with_typos(db_session):
    kl = CityFactory(slug="kuala-lumpur")
    by_name = RestaurantFactory(name="Nasi Lemak Wanjo", city=kl)
    by_dish = RestaurantFactory(name="Kedai Kopi Sin Hup", city=kl)
    DishFactory(restaurant=by_dish, name="Nasi Lemak Ayam Goreng", dish_type=None)
    by_type = RestaurantFactory(name="Warung Mak Cik Siti", city=kl)
    DishFactory(
        restaurant=by_type, name="Biasa Special", dish_type=DishTypeFactory(name="Nasi Lemak")
    )
    by_cuisine = RestaurantFactory(
        name="Restoran Pelangi", city=kl, cuisines=[CuisineFactory(name="Peranakan")]
    )
    RestaurantFactory(name="Char Kway Teow Lorong", city=kl)
    assert set(names(run(q="nasi lemk"))) == {by_name.name, by_dish.name, by_type.name}
    assert names(run(q="peranakn")) == [by_cuisine.name]
    assert names(run(q="zzzz qqqq")) == []


def test_filters_narrow_by_city_price_cuisine_and_diet(db_session):
    kl, penang = CityFactory(slug="kuala-lumpur"), CityFactory(slug="penang")
    malay = CuisineFactory(slug="malay", name="Malay")
    cheap_halal = RestaurantFactory(name="Cheap Halal", city=kl, price_level=1, cuisines=[malay])
    DishFactory(restaurant=cheap_halal, dietary_tags=["halal", "contains-nuts"])
    RestaurantFactory(name="Pricey", city=kl, price_level=4, cuisines=[malay])
    RestaurantFactory(name="Elsewhere", city=penang, price_level=1, cuisines=[malay])
    assert names(run(city="kuala-lumpur", price="1")) == ["Cheap Halal"]
    assert set(names(run(cuisine="malay"))) == {"Cheap Halal", "Pricey", "Elsewhere"}
    assert names(run(diet="halal")) == ["Cheap Halal"]


def _interval_around(now: datetime, before: int, after: int) -> tuple[int, time, time]:
    start, end = now - timedelta(minutes=before), now + timedelta(minutes=after)
    return start.weekday(), time(start.hour, start.minute), time(end.hour, end.minute)


def test_open_now_is_judged_in_each_restaurants_own_time_zone(db_session):
    kl_now = local_now("Asia/Kuala_Lumpur")
    london_now = local_now("Europe/London")
    open_kl = RestaurantFactory(name="Open in KL", timezone="Asia/Kuala_Lumpur")
    weekday, opens, closes = _interval_around(kl_now, 60, 60)
    OperatingHoursFactory(restaurant=open_kl, weekday=weekday, opens_at=opens, closes_at=closes)
    # The same local hours, but the restaurant lives in London where it is another time now.
    closed_london = RestaurantFactory(name="Same hours in London", timezone="Europe/London")
    if abs((kl_now - london_now).total_seconds()) > 3 * 3600:
        OperatingHoursFactory(
            restaurant=closed_london, weekday=weekday, opens_at=opens, closes_at=closes
        )
    # Opened yesterday evening, still open past midnight (an interval ending after now).
    overnight = RestaurantFactory(name="Overnight", timezone="Asia/Kuala_Lumpur")
    yesterday = (kl_now - timedelta(days=1)).weekday()
    later = kl_now + timedelta(minutes=90)
    OperatingHoursFactory(
        restaurant=overnight,
        weekday=yesterday,
        opens_at=time(23, 59),
        closes_at=time(later.hour, later.minute),
    )
    result = set(names(run(open_now="1")))
    assert "Open in KL" in result
    assert "Same hours in London" not in result
    spans_midnight = (
        time(later.hour, later.minute) <= time(23, 59) and later.date() == kl_now.date()
    )
    assert ("Overnight" in result) == spans_midnight


def test_near_radius_and_nearest_sort(db_session):
    centre = (3.1478, 101.6953)
    near = RestaurantFactory(name="Near", latitude=3.1500, longitude=101.6960)
    mid = RestaurantFactory(name="Mid", latitude=3.1700, longitude=101.7100)
    RestaurantFactory(name="Far", latitude=3.5000, longitude=101.9000)
    page = run(near=f"{centre[0]},{centre[1]}", radius_km="5")
    assert names(page) == ["Near", "Mid"]
    assert 0.1 < page.distances[near.id] < 0.5
    assert 2 < page.distances[mid.id] < 4


def test_keyset_pages_cover_everything_once_for_every_sort(db_session):
    city = CityFactory(slug="ipoh")
    made = {
        RestaurantFactory(city=city, name=f"Stall {n:02d}", latitude=4.59 + n / 1000).id
        for n in range(45)
    }
    for sort, extra in (
        ("best", {}),
        ("popular", {}),
        ("newest", {}),
        ("nearest", {"near": "4.59,101.09"}),
    ):
        seen, cursor = [], None
        while True:
            args = {"city": "ipoh", "sort": sort, **extra, **({"cursor": cursor} if cursor else {})}
            page = search(parse(MultiDict(args)), page_size=20)
            seen += [r.id for r in page.restaurants]
            cursor = page.next_cursor
            if not cursor:
                break
        assert len(seen) == 45
        assert set(seen) == made


def test_the_page_and_the_htmx_fragment(browser, db_session):
    RestaurantFactory(name="Nasi Lemak Wanjo")
    page = browser.get("/search?q=nasi+lemak")
    assert page.status_code == 200
    assert "<html" in text(page)
    assert 'hx-get="/search"' in text(page)
    fragment = browser.get("/search?q=nasi+lemak", headers={"HX-Request": "true"})
    assert "<html" not in text(fragment)
    assert "Nasi Lemak Wanjo" in text(fragment)
    assert "HX-Request" in fragment.headers["Vary"]
    restore = browser.get(
        "/search?q=nasi+lemak", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in text(restore)


def test_bad_input_is_a_400_with_the_reason_not_a_500(browser, db_session):
    for url, message in (
        ("/search?near=here", "near=3.1478,101.6953"),
        ("/search?cursor=garbage", "page link is broken"),
        ("/search?city=atlantis", "We don&#39;t know a city called “atlantis”"),
        ("/search?price=9", "Price levels go from 1"),
    ):
        response = browser.get(url)
        assert response.status_code == 400, url
        assert message in text(response), url


def test_search_results_run_a_fixed_number_of_statements(browser, db_session):
    for n in range(3):
        RestaurantFactory(name=f"Laksa House {n}")
    with count_statements() as few:
        browser.get("/search?q=laksa")
    for n in range(20):
        RestaurantFactory(name=f"Laksa Corner {n}", cuisines=[CuisineFactory()])
    with count_statements() as many:
        browser.get("/search?q=laksa")
    assert len(many) == len(few)
    assert len(many) <= 10, many
    # The page and its cards (city, cuisines, open now) are one statement after the text lookup.
    search_statements = [s for s in many if "FROM restaurants" in s]
    assert len(search_statements) == 1, search_statements


def test_cards_say_open_or_closed_exactly_as_the_restaurant_page_does(db_session):
    """The card's open-now is worked out in SQL; it must agree with hours.open_state, which the
    restaurant page uses, for hours around now, past midnight, and days closed for a holiday."""
    now = local_now("Asia/Kuala_Lumpur")
    setups = {
        "Open": [_interval_around(now, 60, 60)],
        "Opens later": [_interval_around(now, -60, 120)],
        "Closed earlier": [_interval_around(now, 180, -60)],
        "Past midnight": [
            (
                (now - timedelta(days=1)).weekday(),
                time(18),
                (now + timedelta(minutes=45)).time().replace(second=0, microsecond=0),
            )
        ],
        "Around the clock": [(day, time(0), time(0)) for day in range(7)],
        "No hours": [],
    }
    for name, intervals in setups.items():
        for closed_today in (False, True):
            r = RestaurantFactory(
                name=f"{name}{' (holiday)' if closed_today else ''}", timezone="Asia/Kuala_Lumpur"
            )
            for weekday, opens, closes in intervals:
                OperatingHoursFactory(
                    restaurant=r, weekday=weekday, opens_at=opens, closes_at=closes
                )
            if closed_today:
                SpecialClosureFactory(restaurant=r, starts_on=now.date(), ends_on=now.date())
    db_session.expire_all()
    cards = run().restaurants
    assert len(cards) == 2 * len(setups)
    by_id = {r.id: r for r in db_session.scalars(select(Restaurant)).all()}
    for card in cards:
        r = by_id[card.id]
        assert card.is_open == open_state(r.hours, r.closures, local_now(r.timezone)).is_open, (
            r.name
        )
    opened = {card.name for card in cards if card.is_open}
    assert {"Open", "Around the clock"} <= opened
    assert not {"Open (holiday)", "Around the clock (holiday)", "Opens later", "No hours"} & opened


def test_next_page_keeps_best_sort_with_a_location(browser, db_session):
    city = CityFactory(slug="melaka")
    for n in range(25):
        RestaurantFactory(
            city=city, name=f"Melaka Stall {n:02d}", latitude=2.19 + n / 1000, longitude=102.25
        )
    first = text(browser.get("/search?city=melaka&near=2.19,102.25&sort=best"))
    next_url = first.split('class="button secondary" href="')[1].split('"')[0].replace("&amp;", "&")
    assert "sort=best" in next_url
    second = browser.get(next_url)
    assert second.status_code == 200
    assert text(second).count('class="result card"') == 5


def test_htmx_gets_the_error_message_swapped_in(browser, db_session):
    response = browser.get("/search?q=laksa&near=abc", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "near=3.1478,101.6953" in text(response)
    assert "<html" not in text(response)


def test_a_refused_search_keeps_what_was_typed(browser, db_session):
    response = browser.get("/search?q=char+kway+teow&price=%C2%B2&diet=halal")
    assert response.status_code == 400
    page = text(response)
    assert 'value="char kway teow"' in page
    assert 'value="halal" checked' in page


def test_every_connection_has_the_typo_threshold_and_no_jit(db_session):
    """Set by config.engine_options at connect, so no search spends a statement on them."""
    from bellyfed.config import SEARCH_WORD_SIMILARITY
    from bellyfed.search.text import WORD_SIMILARITY

    assert SEARCH_WORD_SIMILARITY == WORD_SIMILARITY
    db_session.execute(text_sql("SELECT 'x' %> 'x'"))  # loads pg_trgm, which takes the setting
    threshold = db_session.scalar(text_sql("SHOW pg_trgm.word_similarity_threshold"))
    assert float(threshold) == WORD_SIMILARITY
    assert db_session.scalar(text_sql("SHOW jit")) == "off"


def test_the_dictionary_answer_is_kept_a_minute_per_process(app, db_session, monkeypatch):
    from bellyfed.search.text import matching_terms

    monkeypatch.setitem(app.config, "AGGREGATE_CACHE_SECONDS", 60)
    monkeypatch.setitem(app.extensions, "search_terms", {})
    DishFactory(name="Mee Siput Muar", dish_type=None)  # a dish adds its name to the dictionary
    db_session.flush()
    first = matching_terms("mee siput")
    assert first
    with count_statements() as statements:
        assert matching_terms("mee siput") == first
    assert statements == []
    monkeypatch.setitem(app.config, "AGGREGATE_CACHE_SECONDS", 0)  # off: asked every time
    with count_statements() as statements:
        assert matching_terms("mee siput") == first
    assert len(statements) == 1
