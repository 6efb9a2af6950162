"""Results cards: what a search result shows, read as one row per restaurant in the page's query.

A card is the restaurant's own columns, its city, its cuisines as an array and whether it is open
now, worked out in SQL by the same rules as ``hours.open_state`` (the expression search filters
with). A page of 20 is one statement with no ORM objects, where loading whole restaurants took
five (the restaurants, then their cities, cuisines, hours and closures).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, Subquery, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Text

from bellyfed.restaurants.models import City, Cuisine, Restaurant, restaurant_cuisines


@dataclass(frozen=True, slots=True)
class CityRef:
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class Card:
    """One search result, as the page and the API list show it."""

    id: int
    slug: str
    name: str
    address_line: str
    price_level: int
    review_count: int
    rating_sum: int
    rankers: int
    latitude: float
    longitude: float
    city: CityRef
    cuisines: tuple[str, ...]  # names, in name order
    is_open: bool

    @property
    def rating(self) -> float | None:
        """Average review rating 1-5, two decimals; None before the first review."""
        return round(self.rating_sum / self.review_count, 2) if self.review_count else None

    @classmethod
    def of(cls, restaurant: Restaurant, *, is_open: bool) -> Card:
        """The card of a loaded restaurant (its city and cuisines are read)."""
        return cls(
            restaurant.id, restaurant.slug, restaurant.name, restaurant.address_line,
            restaurant.price_level, restaurant.review_count, restaurant.rating_sum,
            restaurant.rankers, restaurant.latitude, restaurant.longitude,
            CityRef(restaurant.city.slug, restaurant.city.name),
            tuple(c.name for c in restaurant.cuisines), is_open,
        )  # fmt: skip


@functools.cache
def _cuisine_names() -> ColumnElement[list[str]]:
    """The restaurant's cuisine names in name order (its restaurant_cuisines primary key)."""
    names = (
        select(Cuisine.name)
        .join(restaurant_cuisines, restaurant_cuisines.c.cuisine_id == Cuisine.id)
        .where(restaurant_cuisines.c.restaurant_id == Restaurant.id)
        .order_by(Cuisine.name)
        .correlate(Restaurant)
    )
    return func.array(names.scalar_subquery(), type_=ARRAY(Text))


def card_columns(open_now: ColumnElement[bool]) -> list[ColumnElement]:
    """The columns of a card, for a SELECT from restaurants joined to cities."""
    r = Restaurant
    return [
        r.id, r.slug, r.name, r.address_line, r.price_level, r.review_count, r.rating_sum,
        r.rankers, r.latitude, r.longitude, City.slug.label("city_slug"),
        City.name.label("city_name"), _cuisine_names().label("cuisines"),
        open_now.label("is_open"),
    ]  # fmt: skip


def cards_of(
    page: Subquery, open_now: ColumnElement[bool], order: Sequence[ColumnElement]
) -> Select:
    """The cards of a page query's rows (a subquery with an ``id`` column), in ``order``.

    The page is chosen (and limited) first; only its rows get cuisines and the open-now test.
    """
    return (
        select(*card_columns(open_now), *(c for c in page.c if c.name != "id"))
        .select_from(page)
        .join(Restaurant, Restaurant.id == page.c.id)
        .join(City, City.id == Restaurant.city_id)
        .order_by(*order)
    )


def card_from_row(row: object) -> Card:
    """A Card from a row of ``card_columns``."""
    m = row._mapping  # type: ignore[attr-defined]
    return Card(
        m["id"], m["slug"], m["name"], m["address_line"], m["price_level"], m["review_count"],
        m["rating_sum"], m["rankers"], m["latitude"], m["longitude"],
        CityRef(m["city_slug"], m["city_name"]), tuple(m["cuisines"]), bool(m["is_open"]),
    )  # fmt: skip
