"""The search documents follow every change that can alter a text match (triggers, 0005)."""

import flask_migrate
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from bellyfed.extensions import db
from bellyfed.search.params import parse
from bellyfed.search.queries import search
from tests.conftest import MIGRATIONS, make_test_app, temporary_database
from tests.factories import (
    CityFactory,
    CuisineFactory,
    DishFactory,
    DishTypeFactory,
    RestaurantFactory,
)


def found(q: str, **filters: str) -> set[int]:
    return {r.id for r in search(parse(MultiDict({"q": q, **filters}))).restaurants}


def document(restaurant_id: int) -> sa.Row | None:
    return db.session.execute(
        sa.text("SELECT xmin::text, * FROM restaurant_search_documents WHERE restaurant_id = :id"),
        {"id": restaurant_id},
    ).one_or_none()


def test_dishes_added_renamed_moved_and_removed(db_session):
    place = RestaurantFactory(name="Kedai Kopi Sin Hup")
    other = RestaurantFactory(name="Gerai Ah Seng")
    assert found("roti bakar") == set()
    dish = DishFactory(restaurant=place, name="Roti Bakar Kaya", dish_type=None)
    assert found("roti bakr") == {place.id}
    dish.name = "Half-Boiled Eggs"
    db_session.flush()
    assert found("roti bakar") == set()
    assert found("half boiled egs") == {place.id}
    dish.restaurant = other
    db_session.flush()
    assert found("half boiled eggs") == {other.id}
    db_session.delete(dish)
    db_session.flush()
    assert found("half boiled eggs") == set()


def test_a_price_change_leaves_the_document_alone(db_session):
    dish = DishFactory(name="Mee Rebus")
    before = document(dish.restaurant_id)
    dish.price_minor += 100
    dish.is_available = False
    db_session.flush()
    assert document(dish.restaurant_id) == before  # same row version (xmin): nothing rewritten


def test_cuisines_and_dish_types_added_renamed_and_removed(db_session):
    peranakan, sarawak = CuisineFactory(name="Peranakan"), CuisineFactory(name="Sarawakian")
    place = RestaurantFactory(name="Restoran Pelangi", cuisines=[peranakan])
    kind = DishTypeFactory(name="Laksa")
    DishFactory(restaurant=place, name="House Special", dish_type=kind)
    assert found("peranakn") == found("laksa") == {place.id}
    place.cuisines = [sarawak]
    db_session.flush()
    assert found("peranakan") == set()
    assert found("sarawakian") == {place.id}
    sarawak.name = "Kelantanese"
    kind.name = "Curry Mee"
    db_session.flush()
    assert found("sarawakian") == found("laksa") == set()
    assert found("kelantanese") == found("curry mee") == {place.id}
    db_session.delete(sarawak)  # restaurant_cuisines rows go by ON DELETE CASCADE
    db_session.flush()
    db_session.expire_all()
    assert found("kelantanese") == set()


def test_a_restaurant_renamed_moved_deactivated_and_deleted(db_session):
    kl, penang = CityFactory(slug="kuala-lumpur"), CityFactory(slug="penang")
    place = RestaurantFactory(name="Kedai Makan Pak Karim", city=kl)
    assert found("pak karim", city="kuala-lumpur") == {place.id}
    place.name = "Warung Mak Cik Siti"
    db_session.flush()
    assert found("pak karim") == set()
    assert found("mak cik siti") == {place.id}
    place.city = penang
    db_session.flush()
    assert found("mak cik siti", city="kuala-lumpur") == set()
    assert found("mak cik siti", city="penang") == {place.id}
    place.is_active = False
    db_session.flush()
    assert found("mak cik siti") == set()
    restaurant_id = place.id
    db_session.delete(place)
    db_session.flush()
    assert document(restaurant_id) is None


def test_one_statement_for_many_restaurants_updates_each_document(db_session):
    """What a bulk load does: one INSERT (or COPY) for the dishes of many restaurants."""
    places = [RestaurantFactory(name=f"Gerai {n}") for n in range(3)]
    db_session.execute(
        sa.text(
            "INSERT INTO dishes (restaurant_id, slug, name, price_minor, currency) "
            "SELECT id, 'chendol', 'Durian Chendol', 500, 'MYR' FROM restaurants "
            "WHERE id = ANY(:ids)"
        ),
        {"ids": [p.id for p in places]},
    )
    assert found("durian cendol") == {p.id for p in places}


def test_the_migration_writes_documents_for_existing_restaurants():
    with temporary_database("bellyfed_documents") as url:
        app = make_test_app(url)
        with app.app_context():
            flask_migrate.upgrade(directory=MIGRATIONS, revision="0004_view_history")
            db.session.execute(sa.text(
                "INSERT INTO cities (id, slug, name, country_code, timezone, latitude, longitude) "
                "VALUES (1, 'ipoh', 'Ipoh', 'MY', 'Asia/Kuala_Lumpur', 4.6, 101.1);"
                "INSERT INTO cuisines (id, slug, name) VALUES (1, 'hakka', 'Hakka');"
                "INSERT INTO restaurants (id, slug, name, address_line, city_id, latitude, "
                "longitude, timezone, price_level) VALUES (1, 'lou-wong', 'Lou Wong', "
                "'Jalan Yau Tet Shin', 1, 4.6, 101.1, 'Asia/Kuala_Lumpur', 1);"
                "INSERT INTO restaurant_cuisines VALUES (1, 1);"
                "INSERT INTO dishes (restaurant_id, slug, name, price_minor, currency) "
                "VALUES (1, 'taugeh-chicken', 'Bean Sprout Chicken', 1500, 'MYR');"
            ))  # fmt: skip
            db.session.commit()
            flask_migrate.upgrade(directory=MIGRATIONS)
            for q in ("lou wong", "hakka", "bean sprout chicken"):
                assert found(q) == {1}, q
            db.session.rollback()
            db.engine.dispose()
