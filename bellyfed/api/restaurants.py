"""Restaurants: the search of ``/search`` (same parameters, same query, same pages) and detail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Response, abort, jsonify, request, url_for
from marshmallow import Schema, fields, validate

from bellyfed.api.cache import cached
from bellyfed.api.schemas import (
    Blueprint,
    CitySchema,
    DishTypeRefSchema,
    MoneySchema,
    PageSchema,
    doc,
    errors,
)
from bellyfed.core.vocab import DIETARY_TAGS, PRICE_LEVELS, WEEKDAYS
from bellyfed.dishes.models import Dish
from bellyfed.leaderboards.queries import Standing, standings_for_dishes
from bellyfed.restaurants.hours import local_now, open_state
from bellyfed.restaurants.models import Restaurant
from bellyfed.restaurants.queries import menu_sections, restaurant_by_slug
from bellyfed.search.cards import Card
from bellyfed.search.params import MAX_QUERY, MAX_RADIUS_KM, SORTS, BadSearch, parse
from bellyfed.search.queries import SearchPage, cached_search, known_city

SLUG_MARKER = "slug-marker"
CardLinks = tuple[Callable[[str], str], Callable[[str], str]]

blp = Blueprint("api_restaurants", __name__, description="Restaurants: search and detail.")
PAGE_SIZE = 20


class SearchArgs(Schema):
    """The query parameters of ``/search``; ``bellyfed/search/params.py`` gives them meaning."""

    q = fields.String(validate=validate.Length(max=MAX_QUERY),
                      metadata=doc("Text: restaurant, dish, cuisine or area."))  # fmt: skip
    city = fields.String(metadata=doc("City slug, e.g. kuala-lumpur."))
    cuisine = fields.List(fields.String(), metadata=doc("Cuisine slugs (any of)."))
    price = fields.List(fields.Integer(validate=validate.OneOf(PRICE_LEVELS)),
                        metadata=doc("Price levels 1-4 (any of)."))  # fmt: skip
    diet = fields.List(fields.String(validate=validate.OneOf(DIETARY_TAGS)),
                       metadata=doc("Dietary needs (all of)."))  # fmt: skip
    open_now = fields.Boolean(metadata=doc("Only places open right now."))
    near = fields.String(validate=validate.Regexp(r"^-?\d+(\.\d+)?,-?\d+(\.\d+)?$"),
                         metadata=doc("LAT,LNG to sort and filter by distance."))  # fmt: skip
    radius_km = fields.Float(validate=validate.Range(min=0, max=MAX_RADIUS_KM, min_inclusive=False),
                             metadata=doc("With near: only places this close."))  # fmt: skip
    sort = fields.String(validate=validate.OneOf(list(SORTS)),
                         metadata=doc("best (default), popular, trending, nearest "
                                   "(default with near), newest."))  # fmt: skip
    cursor = fields.String(metadata=doc("next_cursor of the previous page."))


class OpenStateSchema(Schema):
    is_open = fields.Boolean(required=True)
    changes_at = fields.String(required=True, allow_none=True,
                               metadata=doc("Local time of the next opening or "
                                         "closing, within a week."))  # fmt: skip
    closed_for = fields.String(required=True, allow_none=True,
                               metadata=doc("Why it is closed today (holiday)."))  # fmt: skip


class RestaurantSummarySchema(Schema):
    id = fields.Integer(required=True)
    slug = fields.String(required=True)
    name = fields.String(required=True)
    city = fields.Nested(CitySchema, required=True)
    cuisines = fields.List(fields.String(), required=True)
    price_level = fields.Integer(required=True, metadata=doc("1 ($) to 4 ($$$$)."))
    rating = fields.Float(required=True, allow_none=True,
                          metadata=doc("Average review rating, 1-5."))  # fmt: skip
    review_count = fields.Integer(required=True)
    rankers = fields.Integer(required=True, metadata=doc("Diners ranking its dishes."))
    latitude = fields.Float(required=True)
    longitude = fields.Float(required=True)
    open_now = fields.Boolean(required=True)
    distance_km = fields.Float(required=True, allow_none=True)
    url = fields.String(required=True)
    web_url = fields.String(required=True)


class RestaurantPageSchema(PageSchema):
    items = fields.List(fields.Nested(RestaurantSummarySchema), required=True)


class HoursSchema(Schema):
    weekday = fields.Integer(required=True, metadata=doc("0 = Monday."))
    day = fields.String(required=True)
    opens_at = fields.String(required=True, metadata={"example": "11:00"})
    closes_at = fields.String(required=True, metadata={"example": "22:30"})


class ClosureSchema(Schema):
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    reason = fields.String(required=True)


class StandingSchema(Schema):
    rank = fields.Integer(required=True)
    board_size = fields.Integer(required=True)
    rankers = fields.Integer(required=True)
    leaderboard = fields.String(required=True, metadata=doc("Its board's API URL."))


class MenuDishSchema(Schema):
    id = fields.Integer(required=True)
    slug = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    price = fields.Nested(MoneySchema, required=True)
    dietary_tags = fields.List(fields.String(), required=True)
    spice_level = fields.Integer(required=True)
    is_available = fields.Boolean(required=True)
    dish_type = fields.Nested(DishTypeRefSchema, required=True, allow_none=True)
    standing = fields.Nested(StandingSchema, required=True, allow_none=True)
    url = fields.String(required=True)


class MenuSectionSchema(Schema):
    name = fields.String(required=True)
    dishes = fields.List(fields.Nested(MenuDishSchema), required=True)


class ContactSchema(Schema):
    phone = fields.String(required=True, allow_none=True)
    website = fields.String(required=True, allow_none=True)
    email = fields.String(required=True, allow_none=True)


class RestaurantDetailSchema(RestaurantSummarySchema):
    description = fields.String(required=True)
    address = fields.String(required=True)
    postcode = fields.String(required=True, allow_none=True)
    timezone = fields.String(required=True)
    contact = fields.Nested(ContactSchema, required=True)
    hours = fields.List(fields.Nested(HoursSchema), required=True)
    closures = fields.List(fields.Nested(ClosureSchema), required=True,
                           metadata=doc("Holidays from today on."))  # fmt: skip
    open_state = fields.Nested(OpenStateSchema, required=True)
    menu = fields.List(fields.Nested(MenuSectionSchema), required=True)
    reviews = fields.String(required=True, metadata=doc("API URL of its reviews."))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="minutes") if moment else None


def summary(restaurant: Restaurant) -> dict[str, Any]:
    """The list view of a loaded restaurant (its city, cuisines, hours and closures)."""
    state = open_state(restaurant.hours, restaurant.closures, local_now(restaurant.timezone))
    return card_summary(Card.of(restaurant, is_open=state.is_open))


def slug_url(endpoint: str) -> Callable[[str], str]:
    """``url_for(endpoint, slug=..., _external=True)`` for many slugs at the cost of one: slugs
    are URL-safe (a CHECK on restaurants), so each is put in place of a marker."""
    head, _, tail = url_for(endpoint, slug=SLUG_MARKER, _external=True).partition(SLUG_MARKER)
    return lambda slug: f"{head}{slug}{tail}"


def card_summary(
    card: Card, *, distance: float | None = None, links: CardLinks | None = None
) -> dict[str, Any]:
    """The list view of a restaurant, from its results card (``links``: a page of them shares
    one pair of URL builders)."""
    api_url, web_url = links or card_links()
    return {
        "id": card.id, "slug": card.slug, "name": card.name,
        "city": {"slug": card.city.slug, "name": card.city.name},
        "cuisines": list(card.cuisines), "price_level": card.price_level, "rating": card.rating,
        "review_count": card.review_count, "rankers": card.rankers,
        "latitude": card.latitude, "longitude": card.longitude, "open_now": card.is_open,
        "distance_km": round(distance, 3) if distance is not None else None,
        "url": api_url(card.slug), "web_url": web_url(card.slug),
    }  # fmt: skip


def card_links() -> CardLinks:
    """Builders of a card's API and web URLs."""
    return slug_url("api_restaurants.detail"), slug_url("restaurants.detail")


def menu_dish(dish: Dish, standing: Standing | None) -> dict[str, Any]:
    return {
        "id": dish.id, "slug": dish.slug, "name": dish.name, "description": dish.description,
        "price": {"amount_minor": dish.price_minor, "currency": dish.currency},
        "dietary_tags": list(dish.dietary_tags), "spice_level": dish.spice_level,
        "is_available": dish.is_available, "dish_type": dish.dish_type,
        "standing": {
            "rank": standing.rank, "board_size": standing.board_size,
            "rankers": standing.rankers,
            "leaderboard": url_for("api_leaderboards.board", type_slug=standing.dish_type_slug,
                                   city_slug=standing.city_slug, _external=True),
        } if standing else None,
        "url": url_for("api_catalog.dish", dish_id=dish.id, _external=True),
    }  # fmt: skip


@blp.get("/restaurants")
@errors(blp, 304, 400)
@cached(clock=True)
@blp.arguments(SearchArgs, location="query", as_kwargs=True)
@blp.response(200, RestaurantPageSchema)
def listing(**_: Any) -> Response:
    """Search restaurants: the same filters, sorts and cursor pages as the search page.

    Not personalized: the web page fills unset filters from a signed-in diner's preferences; the
    API answers exactly what was asked. The body is built JSON-ready and sent as it is: the
    schema documents it (and a test holds the two equal), where dumping 20 cards through
    marshmallow was a tenth of an uncached search's time.
    """
    try:
        params = parse(request.args)
    except BadSearch as exc:
        abort(400, description=str(exc))
    if params.city and not known_city(params.city):
        abort(400, description=f"We don't know a city called “{params.city}”.")
    page: SearchPage = cached_search(params, PAGE_SIZE)
    links = card_links()
    next_url = (
        url_for(".listing", **params.query_args(), cursor=page.next_cursor, _external=True)
        if page.next_cursor
        else None
    )
    return jsonify(
        {
            "items": [
                card_summary(c, distance=page.distances.get(c.id), links=links)
                for c in page.restaurants
            ],
            "next_cursor": page.next_cursor,
            "next": next_url,
        }
    )


@blp.get("/restaurants/<slug>")
@errors(blp, 304, 404)
@cached(clock=True)
@blp.response(200, RestaurantDetailSchema)
def detail(slug: str) -> dict[str, Any]:
    """One restaurant: profile, contact, hours, open now, holidays and the menu with standings."""
    restaurant = restaurant_by_slug(slug)
    if restaurant is None:
        abort(404, description=f"There's no restaurant “{slug}” (it may have closed or moved).")
    now = local_now(restaurant.timezone)
    state = open_state(restaurant.hours, restaurant.closures, now)
    standings = standings_for_dishes([d.id for d in restaurant.dishes])
    return {
        **summary(restaurant),
        "open_now": state.is_open,
        "description": restaurant.description, "address": restaurant.address_line,
        "postcode": restaurant.postcode, "timezone": restaurant.timezone,
        "contact": {"phone": restaurant.phone, "website": restaurant.website,
                    "email": restaurant.email},
        "hours": [
            {"weekday": h.weekday, "day": WEEKDAYS[h.weekday],
             "opens_at": h.opens_at.strftime("%H:%M"), "closes_at": h.closes_at.strftime("%H:%M")}
            for h in sorted(restaurant.hours, key=lambda h: (h.weekday, h.opens_at))
        ],
        "closures": [c for c in sorted(restaurant.closures, key=lambda c: c.starts_on)
                     if c.ends_on >= now.date()],
        "open_state": {"is_open": state.is_open, "changes_at": _iso(state.changes_at),
                       "closed_for": state.closed_for},
        "menu": [
            {"name": name, "dishes": [menu_dish(d, standings.get(d.id)) for d in dishes]}
            for name, dishes in menu_sections(restaurant)
        ],
        "reviews": url_for("api_reviews.listing", slug=restaurant.slug, _external=True),
    }  # fmt: skip
