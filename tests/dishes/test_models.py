"""Dish constraints and the price history the database keeps."""

import pytest
from sqlalchemy import select, text

from bellyfed.dishes.models import DishPrice
from tests.factories import (
    DishFactory,
    DishPriceFactory,
    DishTypeFactory,
    MenuCategoryFactory,
    RankingFactory,
)
from tests.helpers import violates


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("price_minor", -1, "ck_dishes_price_non_negative"),
        ("currency", "myr", "ck_dishes_currency_iso"),
        ("currency", "RM", "ck_dishes_currency_iso"),
        ("spice_level", 6, "ck_dishes_spice_level_range"),
        ("spice_level", -1, "ck_dishes_spice_level_range"),
        ("dietary_tags", ["halal", "keto"], "ck_dishes_dietary_tags_known"),
        ("name", "", "ck_dishes_name_not_blank"),
        ("slug", "Nasi Lemak", "ck_dishes_slug_format"),
    ],
)
def test_bad_dish_values_are_refused(db_session, field, value, constraint):
    with violates(constraint):
        DishFactory(**{field: value})


def test_a_free_dish_is_allowed(db_session):
    assert DishFactory(price_minor=0).id


def test_dish_slugs_are_unique_within_a_restaurant_only(db_session):
    first = DishFactory(slug="nasi-lemak")
    assert DishFactory(slug="nasi-lemak").id  # another restaurant
    with violates("uq_dishes_restaurant_id_slug"):
        DishFactory(slug="nasi-lemak", restaurant=first.restaurant)


def test_menu_category_names_are_unique_per_restaurant(db_session):
    category = MenuCategoryFactory(name="Rice")
    with violates("uq_menu_categories_restaurant_id_name"):
        MenuCategoryFactory(name="Rice", restaurant=category.restaurant)


def test_dish_type_in_use_cannot_be_deleted(db_session):
    dish = DishFactory()
    with violates("fk_dishes_dish_type_id_dish_types"):
        db_session.execute(text("DELETE FROM dish_types WHERE id = :t"), {"t": dish.dish_type_id})


def test_deleting_a_dish_deletes_its_rankings(db_session):
    ranking = RankingFactory()
    db_session.execute(text("DELETE FROM dishes WHERE id = :d"), {"d": ranking.dish_id})
    assert (
        db_session.scalar(text("SELECT count(*) FROM rankings WHERE id = :r"), {"r": ranking.id})
        == 0
    )


def test_untyped_menu_items_are_allowed(db_session):
    assert DishFactory(dish_type=None).dish_type_id is None


def test_price_history_records_insert_and_each_price_change_only(db_session):
    dish = DishFactory(price_minor=900, currency="MYR")
    dish.name = "Renamed"
    db_session.flush()
    dish.price_minor = 1050
    db_session.flush()
    dish.currency = "SGD"
    db_session.flush()
    prices = db_session.execute(
        select(DishPrice.price_minor, DishPrice.currency)
        .where(DishPrice.dish_id == dish.id)
        .order_by(DishPrice.id)
    ).all()
    assert prices == [(900, "MYR"), (1050, "MYR"), (1050, "SGD")]


def test_dish_type_names_are_unique(db_session):
    DishTypeFactory(name="Nasi Lemak")
    with violates("uq_dish_types_name"):
        DishTypeFactory(name="Nasi Lemak")


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("price_minor", -5, "ck_dish_prices_price_non_negative"),
        ("currency", "ringgit", "ck_dish_prices_currency_iso"),
    ],
)
def test_bad_price_history_rows_are_refused(db_session, field, value, constraint):
    assert DishPriceFactory().id
    with violates(constraint):
        DishPriceFactory(**{field: value})
