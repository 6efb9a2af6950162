"""The catalog: dish types (as on ``/dishes``), one dish type's city boards, and one dish."""

from __future__ import annotations

from typing import Any

from flask import abort, url_for
from marshmallow import Schema, fields
from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from bellyfed.api.cache import cached
from bellyfed.api.leaderboards import (
    BoardRefSchema,
    BoardRowSchema,
    ScoringSchema,
    board_ref,
    board_row,
    dish_type_or_404,
    scoring_explained,
)
from bellyfed.api.restaurants import MenuDishSchema, RestaurantSummarySchema, menu_dish, summary
from bellyfed.api.schemas import Blueprint, doc, errors
from bellyfed.dishes.models import Dish, DishType
from bellyfed.extensions import db
from bellyfed.leaderboards.models import LeaderboardEntry
from bellyfed.leaderboards.queries import city_boards, dish_types_with_counts, standings_for_dishes
from bellyfed.restaurants.models import Restaurant
from bellyfed.votes.models import DishVote
from bellyfed.votes.services import counts

blp = Blueprint("api_catalog", __name__, description="Dish types and dishes.")
TOP = 3  # rows of each city board on a dish type, as its web page shows


class DishTypeSchema(Schema):
    slug = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    diners = fields.Integer(required=True, metadata=doc("Diners who ranked one."))
    cities = fields.Integer(required=True, metadata=doc("Cities with a board for it."))
    dishes = fields.Integer(required=True,
                            metadata=doc("Dishes on its boards (ranked by at least one diner), "
                                         "all cities together."))  # fmt: skip
    url = fields.String(required=True, metadata=doc("Its API URL."))
    leaderboards = fields.String(required=True,
                                 metadata=doc("API URL of its cities' boards."))  # fmt: skip
    web_url = fields.String(required=True)


class DishTypeListSchema(Schema):
    items = fields.List(fields.Nested(DishTypeSchema), required=True,
                        metadata=doc("Every dish type, most ranked first."))  # fmt: skip


class CityBoardSchema(BoardRefSchema):
    top = fields.List(fields.Nested(BoardRowSchema), required=True,
                      metadata=doc(f"Its first {TOP} rows."))  # fmt: skip


class DishTypeDetailSchema(Schema):
    slug = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    boards = fields.List(fields.Nested(CityBoardSchema), required=True,
                         metadata=doc("Each city's board, by city name."))  # fmt: skip
    scoring = fields.Nested(ScoringSchema, required=True)
    leaderboards = fields.String(required=True)
    web_url = fields.String(required=True)


class VoteCountsSchema(Schema):
    up = fields.Integer(required=True, metadata=doc("Diners who like it."))
    down = fields.Integer(required=True, metadata=doc("Diners who don't."))


class DishDetailSchema(MenuDishSchema):
    restaurant = fields.Nested(RestaurantSummarySchema, required=True)
    votes = fields.Nested(VoteCountsSchema, required=True)


def _dish_type_links(kind: DishType) -> dict[str, str]:
    return {
        "url": url_for("api_catalog.dish_type", slug=kind.slug, _external=True),
        "leaderboards": url_for("api_leaderboards.cities", type_slug=kind.slug, _external=True),
        "web_url": url_for("leaderboards.dish_type", type_slug=kind.slug, _external=True),
    }


def _board_dishes_by_type() -> dict[int, int]:
    """How many dishes each dish type has on its boards, all cities together (one query)."""
    rows = db.session.execute(
        select(LeaderboardEntry.dish_type_id, func.count()).group_by(LeaderboardEntry.dish_type_id)
    )
    return dict(rows.all())


def _active_dish(dish_id: int) -> Dish | None:
    """A dish of an active restaurant, with what its restaurant summary shows."""
    return db.session.scalar(
        select(Dish)
        .join(Dish.restaurant)
        .where(Dish.id == dish_id, Restaurant.is_active)
        .options(
            contains_eager(Dish.restaurant).options(
                joinedload(Restaurant.city),
                selectinload(Restaurant.cuisines),
                selectinload(Restaurant.hours),
                selectinload(Restaurant.closures),
            ),
            joinedload(Dish.dish_type),
        )
    )


@blp.get("/dish-types")
@errors(blp, 304, 400)
@cached()
@blp.response(200, DishTypeListSchema)
def dish_types() -> dict[str, Any]:
    """Every dish type, with how many diners ranked it, in how many cities, and links."""
    dishes = _board_dishes_by_type()
    return {
        "items": [
            {"slug": kind.slug, "name": kind.name, "description": kind.description,
             "diners": diners, "cities": n_cities, "dishes": dishes.get(kind.id, 0),
             **_dish_type_links(kind)}
            for kind, diners, n_cities in dish_types_with_counts()
        ]
    }  # fmt: skip


@blp.get("/dish-types/<slug>")
@errors(blp, 304, 400, 404)
@cached()
@blp.response(200, DishTypeDetailSchema)
def dish_type(slug: str) -> dict[str, Any]:
    """One dish type: each city's top 3, linking to the full boards, as on its web page."""
    kind = dish_type_or_404(slug)
    return {
        "slug": kind.slug, "name": kind.name, "description": kind.description,
        "boards": [
            {**board_ref(kind, b.city, b.size), "top": [board_row(row) for row in b.top]}
            for b in city_boards(kind, top=TOP)
        ],
        "scoring": scoring_explained(),
        **_dish_type_links(kind),
    }  # fmt: skip


@blp.get("/dishes/<int:dish_id>")
@errors(blp, 304, 400, 404)
@cached(clock=True)
@blp.response(200, DishDetailSchema)
def dish(dish_id: int) -> dict[str, Any]:
    """One dish: price, tags, its restaurant, its place on its city board and its votes."""
    found = _active_dish(dish_id)
    if found is None:
        abort(404, description=f"There's no dish {dish_id} (its restaurant may have closed).")
    up, down = counts(DishVote, [found.id]).get(found.id, (0, 0))
    return {
        **menu_dish(found, standings_for_dishes([found.id]).get(found.id)),
        "restaurant": summary(found.restaurant),
        "votes": {"up": up, "down": down},
    }
