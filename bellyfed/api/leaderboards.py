"""City leaderboards: one dish type's board in one city, a page of ranks at a time, and the
cities that have a board for a dish type; the same queries as the ``/dishes/…`` pages."""

from __future__ import annotations

from typing import Any

from flask import abort, url_for
from marshmallow import Schema, fields, validate

from bellyfed.api.cache import cached
from bellyfed.api.schemas import (
    Blueprint,
    CitySchema,
    DishLinkSchema,
    DishTypeRefSchema,
    MoneySchema,
    RestaurantLinkSchema,
    doc,
    errors,
)
from bellyfed.dishes.models import DishType
from bellyfed.leaderboards import queries, scoring
from bellyfed.leaderboards.queries import (
    BoardRow,
    cities_with_boards,
    city_by_slug,
    dish_type_by_slug,
)
from bellyfed.leaderboards.views import PAGE_SIZE, scoring_facts
from bellyfed.restaurants.models import City

blp = Blueprint(
    "api_leaderboards", __name__, description="City leaderboards: the best dishes of each type."
)
MAX_RANK = 999_999_999  # the web page's page links accept nine digits, too
FORMULA = "score = (prior_points * prior_rankers + points) / (prior_rankers + rankers)"
TIES = "Equal scores: more rankers first, then more #1s, then the older dish (lower id)."


class BoardArgs(Schema):
    after_rank = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_RANK),
        metadata=doc("The last rank of the previous page (0, the default, for the top)."),
    )


class BoardDishSchema(DishLinkSchema):
    price = fields.Nested(MoneySchema, required=True)


class BoardRestaurantSchema(RestaurantLinkSchema):
    web_url = fields.String(required=True)


class BoardRowSchema(Schema):
    rank = fields.Integer(required=True, metadata=doc("1 is the best; ranks have no gaps."))
    dish = fields.Nested(BoardDishSchema, required=True)
    restaurant = fields.Nested(BoardRestaurantSchema, required=True)
    score = fields.Float(required=True, metadata=doc("See `scoring` for how it is computed."))
    points = fields.Integer(required=True, metadata=doc("Sum of its top-5 points (#1 = 5)."))
    rankers = fields.Integer(required=True, metadata=doc("Diners with it in their top 5."))
    first_places = fields.Integer(required=True, metadata=doc("Diners who put it #1."))
    why = fields.String(required=True, metadata=doc("Why it stands here, in one line."))


class ScoringSchema(Schema):
    """How a board is scored, with the numbers the code uses (``leaderboards/scoring.py``)."""

    formula = fields.String(required=True)
    points_by_position = fields.List(
        fields.Integer(), required=True, metadata=doc("Points of #1, #2, … #5.")
    )
    prior_points = fields.Integer(
        required=True, metadata=doc("Points of each imaginary neutral vote.")
    )
    prior_rankers = fields.Integer(
        required=True, metadata=doc("Imaginary diners added to every dish.")
    )
    prior_position = fields.Integer(
        required=True, metadata=doc("The position the neutral votes stand for.")
    )
    example_single_first = fields.Float(required=True, metadata=doc("Score of one diner's #1."))
    example_forty_firsts = fields.Float(required=True, metadata=doc("Score of 31 #1s and 9 #2s."))
    ties = fields.String(required=True)


class BoardRefSchema(Schema):
    city = fields.Nested(CitySchema, required=True)
    size = fields.Integer(required=True, metadata=doc("Dishes on the board."))
    url = fields.String(required=True, metadata=doc("The board's API URL."))
    web_url = fields.String(required=True)


class BoardSchema(Schema):
    dish_type = fields.Nested(DishTypeRefSchema, required=True)
    city = fields.Nested(CitySchema, required=True)
    size = fields.Integer(required=True, metadata=doc("Dishes on the whole board."))
    after_rank = fields.Integer(required=True)
    rows = fields.List(fields.Nested(BoardRowSchema), required=True,
                       metadata=doc(f"Up to {PAGE_SIZE} rows, best first."))  # fmt: skip
    next_after_rank = fields.Integer(required=True, allow_none=True,
                                     metadata=doc("after_rank of the next page."))  # fmt: skip
    next = fields.String(required=True, allow_none=True,
                         metadata=doc("URL of the next page."))  # fmt: skip
    scoring = fields.Nested(ScoringSchema, required=True)
    other_boards = fields.List(fields.Nested(BoardRefSchema), required=True,
                               metadata=doc("This dish type in other cities."))  # fmt: skip
    web_url = fields.String(required=True)


class CitiesSchema(Schema):
    dish_type = fields.Nested(DishTypeRefSchema, required=True)
    boards = fields.List(fields.Nested(BoardRefSchema), required=True,
                         metadata=doc("Every city with a board for it, by name."))  # fmt: skip
    web_url = fields.String(required=True)


def scoring_explained() -> dict[str, Any]:
    """The scoring method in numbers, from the same facts the web pages state."""
    return {
        **scoring_facts(),
        "formula": FORMULA,
        "points_by_position": [scoring.points_for(n) for n in range(1, scoring.TOP_POSITIONS + 1)],
        "ties": TIES,
    }


def board_row(row: BoardRow) -> dict[str, Any]:
    """One row of a board, with links to its dish and restaurant."""
    dish, restaurant, entry = row.dish, row.restaurant, row.entry
    return {
        "rank": entry.rank, "score": entry.score, "points": entry.points,
        "rankers": entry.rankers, "first_places": entry.first_places, "why": row.why,
        "dish": {
            "id": dish.id, "name": dish.name,
            "price": {"amount_minor": dish.price_minor, "currency": dish.currency},
            "url": url_for("api_catalog.dish", dish_id=dish.id, _external=True),
        },
        "restaurant": {
            "slug": restaurant.slug, "name": restaurant.name,
            "url": url_for("api_restaurants.detail", slug=restaurant.slug, _external=True),
            "web_url": url_for("restaurants.detail", slug=restaurant.slug, _external=True),
        },
    }  # fmt: skip


def board_ref(kind: DishType, city: City, size: int) -> dict[str, Any]:
    """A link to a city's board for the dish type, with its size."""
    slugs = {"type_slug": kind.slug, "city_slug": city.slug, "_external": True}
    return {
        "city": city, "size": size,
        "url": url_for("api_leaderboards.board", **slugs),
        "web_url": url_for("leaderboards.city_board", **slugs),
    }  # fmt: skip


def dish_type_or_404(slug: str) -> DishType:
    """The dish type with this slug, or a 404 problem saying so."""
    kind = dish_type_by_slug(slug)
    if kind is None:
        abort(404, description=f"We don't know a dish called “{slug}”.")
    return kind


@blp.get("/leaderboards/<type_slug>")
@errors(blp, 304, 400, 404)
@cached()
@blp.response(200, CitiesSchema)
def cities(type_slug: str) -> dict[str, Any]:
    """The cities with a board for this dish type, each with its size and links."""
    kind = dish_type_or_404(type_slug)
    return {
        "dish_type": kind,
        "boards": [board_ref(kind, city, size) for city, size in cities_with_boards(kind)],
        "web_url": url_for("leaderboards.dish_type", type_slug=kind.slug, _external=True),
    }


@blp.get("/leaderboards/<type_slug>/<city_slug>")
@errors(blp, 304, 400, 404)
@cached()
@blp.arguments(BoardArgs, location="query", as_kwargs=True)
@blp.response(200, BoardSchema)
def board(type_slug: str, city_slug: str, after_rank: int) -> dict[str, Any]:
    """A city's board for a dish type, as on its web page: rows by rank, a page at a time, with
    why each dish stands where it does and how the score is computed."""
    kind = dish_type_or_404(type_slug)
    city = city_by_slug(city_slug)
    if city is None:
        abort(404, description=f"We don't know a city called “{city_slug}”.")
    boards = cities_with_boards(kind)
    size = next((n for c, n in boards if c.id == city.id), 0)
    rows = queries.board(kind, city, limit=PAGE_SIZE, after_rank=after_rank)
    last = rows[-1].entry.rank if rows else None
    next_after = last if last is not None and last < size else None
    slugs = {"type_slug": kind.slug, "city_slug": city.slug, "_external": True}
    return {
        "dish_type": kind, "city": city, "size": size, "after_rank": after_rank,
        "rows": [board_row(row) for row in rows],
        "next_after_rank": next_after,
        "next": url_for(".board", **slugs, after_rank=next_after)
        if next_after is not None else None,
        "scoring": scoring_explained(),
        "other_boards": [board_ref(kind, c, n) for c, n in boards if c.id != city.id],
        "web_url": url_for("leaderboards.city_board", **slugs),
    }  # fmt: skip
