"""The restaurant search: filters narrow first, trigram word similarity for typo-tolerant text,
open-now in each restaurant's own time zone, distance, and keyset pages for every sort.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from math import cos, radians
from urllib.parse import urlencode

import redis
from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app
from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    Float,
    Integer,
    Select,
    Text,
    Time,
    and_,
    any_,
    bindparam,
    cast,
    exists,
    func,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY

from bellyfed.core.memo import aggregate
from bellyfed.dishes.models import Dish
from bellyfed.dynamo import search_cache
from bellyfed.extensions import db
from bellyfed.ops.metrics import count_cache_lookup
from bellyfed.redis_client import get_redis
from bellyfed.restaurants.models import (
    City,
    Cuisine,
    OperatingHours,
    Restaurant,
    SpecialClosure,
    restaurant_cuisines,
)
from bellyfed.search import opening, statements
from bellyfed.search.cards import Card, card_columns, card_from_row, cards_of
from bellyfed.search.params import SearchParams, encode_cursor
from bellyfed.search.text import MIN_TRIGRAM_QUERY, matching_terms, text_matches, text_values
from bellyfed.search.versions import queue_read_version

PAGE_SIZE = 20
EARTH_KM = 6371.0
# Searches people ran today (query strings, first pages, no near=): what the worker keeps warm.
POPULAR = "bellyfed:search:popular:"
POPULAR_TTL = 2 * 24 * 3600
CACHE_ERRORS = (BotoCoreError, ClientError, redis.RedisError)
log = logging.getLogger(__name__)


@dataclass
class SearchPage:
    """One page of results (cards), with the distance to each when a location was given."""

    restaurants: list[Card]
    distances: dict[int, float]
    next_cursor: str | None
    sort_values: dict[int, object] = field(default_factory=dict)  # fresh pages only


def distance_km(lat: float, lng: float) -> ColumnElement[float]:
    """Great-circle (haversine) distance from the point to each restaurant, in km (the point is
    the parameters ``lat`` and ``lng``)."""
    lat_, lng_ = bindparam("lat", lat, type_=Float), bindparam("lng", lng, type_=Float)
    dlat = func.radians(Restaurant.latitude - lat_) / 2
    dlng = func.radians(Restaurant.longitude - lng_) / 2
    a = func.power(func.sin(dlat), 2) + func.cos(func.radians(lat_)) * func.cos(
        func.radians(Restaurant.latitude)
    ) * func.power(func.sin(dlng), 2)
    return (2 * EARTH_KM * func.asin(func.sqrt(func.least(a, 1.0)))).cast(Float)


@functools.cache
def _open_now() -> ColumnElement[bool]:
    """Open at this instant in the restaurant's own time zone (same rules as hours.open_state).

    The same expression every time (its instant is the database's ``now()``): built once."""
    local = func.timezone(Restaurant.timezone, func.now())
    local_time, local_date = cast(local, Time), cast(local, Date)
    weekday = cast(func.extract("isodow", local), Integer) - 1
    h = OperatingHours
    starts_today = and_(
        h.weekday == weekday,
        local_time >= h.opens_at,
        or_(h.closes_at <= h.opens_at, local_time < h.closes_at),
    )
    spills_from_yesterday = and_(
        h.weekday == (weekday + 6) % 7, h.closes_at <= h.opens_at, local_time < h.closes_at
    )

    def closed_on(day: ColumnElement) -> ColumnElement[bool]:
        return exists().where(
            SpecialClosure.restaurant_id == Restaurant.id,
            SpecialClosure.starts_on <= day,
            SpecialClosure.ends_on >= day,
        )

    # The week's schedule first (one containment test, no sub-query; open_at() in migration
    # 0007): only restaurants it says are open get the exact check, which knows special closures.
    minute_of_week = cast(
        weekday * 1440 + func.extract("hour", local) * 60 + func.extract("minute", local), Integer
    )
    scheduled = func.open_at(Restaurant.open_week, minute_of_week, type_=Boolean)
    return and_(
        scheduled,
        or_(
            and_(
                exists().where(h.restaurant_id == Restaurant.id, starts_today),
                ~closed_on(local_date),
            ),
            and_(
                exists().where(h.restaurant_id == Restaurant.id, spills_from_yesterday),
                ~closed_on(local_date - 1),
            ),
        ),
    )


def _sort_key(params: SearchParams) -> tuple[ColumnElement, bool]:
    """(the sort value, ascending?) for the chosen sort; ties always break on id."""
    if params.sort == "nearest":
        return distance_km(*params.near), True
    columns = {
        "best": Restaurant.ranking_points,
        "popular": Restaurant.popularity,
        "trending": Restaurant.trending_score,
        "newest": Restaurant.created_at,
    }
    column = columns[params.sort]
    return column, False


def _city_id(params: SearchParams) -> ColumnElement[int] | None:
    """The city's id as a scalar subquery (an InitPlan, so the (city_id, sort) indexes serve)."""
    if not params.city:
        return None
    return select(City.id).where(City.slug == bindparam("city", params.city)).scalar_subquery()


def bind_values(
    params: SearchParams, term_ids: Sequence[int] = (), candidates: Sequence[int] | None = None
) -> dict[str, object]:
    """The values of a search's named parameters. Which names are present (with the sort, open
    now and the page size) is the statement's shape: its SQL is the same for any values."""
    values: dict[str, object] = {}
    if params.city:
        values["city"] = params.city
    if params.prices:
        values["prices"] = list(params.prices)
    if params.cuisines:
        values["cuisines"] = list(params.cuisines)
    if params.diets:
        values["diets"] = list(params.diets)
    if candidates is not None:
        values["candidates"] = list(candidates)
    elif params.q:
        values.update(text_values(params.q, term_ids))
    if params.near:
        lat, lng = values["lat"], values["lng"] = params.near
        if params.radius_km:
            dlat = params.radius_km / 111.0
            dlng = params.radius_km / (111.0 * max(cos(radians(lat)), 0.01))
            values.update(west=lng - dlng, south=lat - dlat, east=lng + dlng, north=lat + dlat,
                          radius=params.radius_km)  # fmt: skip
    if params.cursor is not None:
        values["cursor_value"], values["cursor_id"] = params.cursor
    return values


def shape(params: SearchParams, page_size: int, values: dict[str, object]) -> tuple:
    """What ``cards_query``'s SQL depends on (its values aside): the statement cache's key."""
    return ("cards", page_size, params.sort, params.open_now, *sorted(values))


def build_query(
    params: SearchParams,
    page_size: int = PAGE_SIZE,
    term_ids: Sequence[int] = (),
    candidates: Sequence[int] | None = None,
) -> Select:
    """The SELECT of one page's ids and sort values (page_size + 1 rows, to know whether another
    page follows); ``search()`` reads their cards around it.

    ``term_ids`` are the dictionary names the text matched (``text.matching_terms``);
    ``candidates``, when given, the restaurants the text matched (``opening.candidates``).
    Every value is a named parameter (``bind_values``), so the SQL is that of the shape.
    """
    values = bind_values(params, term_ids, candidates)

    def bound(name: str, type_: object) -> ColumnElement:
        value = bindparam(name, values[name], type_=type_)
        # Arrays cast too: typed even where the SQL is rendered with its values (EXPLAIN tests).
        return cast(value, type_) if isinstance(type_, ARRAY) else value

    query = select(Restaurant).where(Restaurant.is_active)
    city_id = _city_id(params)
    if city_id is not None:
        query = query.where(Restaurant.city_id == city_id)
    if params.prices:
        query = query.where(Restaurant.price_level == any_(bound("prices", ARRAY(Integer))))
    if params.cuisines:  # any of the chosen cuisines
        chosen = select(Cuisine.id).where(Cuisine.slug == any_(bound("cuisines", ARRAY(Text))))
        query = query.where(
            exists()
            .where(restaurant_cuisines.c.restaurant_id == Restaurant.id)
            .where(restaurant_cuisines.c.cuisine_id.in_(chosen))
        )
    if params.diets:
        query = query.where(
            exists().where(
                Dish.restaurant_id == Restaurant.id,
                Dish.dietary_tags.contains(bound("diets", ARRAY(Text))),
            )
        )
    if candidates is not None:
        query = query.where(Restaurant.id == any_(bound("candidates", ARRAY(BigInteger))))
    elif params.q:
        query = query.where(text_matches(params.q, term_ids, city_id))
    if params.open_now:
        query = query.where(_open_now())
    distance = distance_km(*params.near) if params.near else None
    if distance is not None and params.radius_km:
        corner = lambda x, y: func.point(bound(x, Float), bound(y, Float))  # noqa: E731
        box = func.box(corner("west", "south"), corner("east", "north"))
        query = query.where(func.point(Restaurant.longitude, Restaurant.latitude).op("<@")(box))
        query = query.where(distance <= bound("radius", Float))
    key, ascending = _sort_key(params)
    if params.cursor is not None:
        after = tuple_(key, Restaurant.id)
        cursor = tuple_(bound("cursor_value", key.type), bound("cursor_id", BigInteger))
        query = query.where(after > cursor if ascending else after < cursor)
    order = (key.asc(), Restaurant.id.asc()) if ascending else (key.desc(), Restaurant.id.desc())
    columns = [Restaurant.id, key.label("sort_value")] + (
        [distance.label("distance")] if distance is not None else []
    )
    return query.with_only_columns(*columns).order_by(*order).limit(page_size + 1)


def cards_query(
    params: SearchParams,
    page_size: int = PAGE_SIZE,
    term_ids: Sequence[int] = (),
    candidates: Sequence[int] | None = None,
) -> Select:
    """One statement for a page and its cards: ``build_query`` chooses the rows, then only those
    get their city, cuisines and open-now."""
    page = build_query(params, page_size, term_ids, candidates).subquery("page")
    _, ascending = _sort_key(params)
    order = (
        (page.c.sort_value.asc(), page.c.id.asc())
        if ascending
        else (page.c.sort_value.desc(), page.c.id.desc())
    )
    # An open-now search has proved each row open: its cards need not ask again.
    return cards_of(page, true() if params.open_now else _open_now(), order)


def search(params: SearchParams, page_size: int = PAGE_SIZE) -> SearchPage:
    """Run the search and return one page of cards."""
    term_ids: list[int] = []
    candidates = None
    statements.without_parallel_workers()
    if params.q:
        term_ids = matching_terms(params.q)
        if params.open_now and len(params.q) >= MIN_TRIGRAM_QUERY:
            zone = next((c.timezone for c in cities() if c.slug == params.city), None)
            if not opening.busy(zone if params.city else None):
                candidates = opening.candidates(params.q, term_ids, params.city)
    values = bind_values(params, term_ids, candidates)
    rows = statements.execute(
        shape(params, page_size, values),
        lambda: cards_query(params, page_size, term_ids, candidates),
        values,
    ).all()
    more = len(rows) > page_size
    rows = rows[:page_size]
    next_cursor = encode_cursor(params.sort, rows[-1].sort_value, rows[-1].id) if more else None
    distances = {row.id: row.distance for row in rows} if params.near else {}
    sort_values = {row.id: row.sort_value for row in rows}
    return SearchPage([card_from_row(row) for row in rows], distances, next_cursor, sort_values)


@aggregate
def cities() -> list[City]:
    """Every city by name (kept AGGREGATE_CACHE_SECONDS per process: the filter form's list)."""
    return list(db.session.scalars(select(City).order_by(City.name)))


@aggregate
def cuisines() -> list[Cuisine]:
    """Every cuisine by name (kept like ``cities``)."""
    return list(db.session.scalars(select(Cuisine).order_by(Cuisine.name)))


def known_city(slug: str) -> bool:
    """Whether a city has this slug: the kept list first, then the database (a city just added)."""
    return any(c.slug == slug for c in cities()) or (
        db.session.scalar(select(City.id).where(City.slug == slug)) is not None
    )


def popular_key(day: datetime) -> str:
    return f"{POPULAR}{day:%Y-%m-%d}"


def worth_caching(params: SearchParams) -> bool:
    """Text and distance searches cost tens to hundreds of milliseconds at 100k restaurants; a
    filtered browse is an index range read under a millisecond, cheaper than a cache lookup."""
    return bool(params.q or params.near)


def cached_search(
    params: SearchParams, page_size: int = PAGE_SIZE, *, track: bool = False
) -> SearchPage:
    """``search()``, served from the cache when it holds this page under the current version.

    ``track`` counts the search as popular (one pipelined Redis round trip with the version read).
    Any Redis or DynamoDB error runs the search uncached: the cache never breaks a page.
    """
    if not current_app.config["SEARCH_CACHE_SECONDS"]:  # 0 turns the cache off
        return search(params, page_size)
    if not worth_caching(params):
        return search(params, page_size)
    now = time.time()
    key = search_cache.search_key(params, page_size, now)
    try:
        pipe = get_redis().pipeline(transaction=False)
        queue_read_version(pipe)
        if track and params.near is None:  # a point is personal: not worth warming for others
            day = popular_key(datetime.now(UTC))
            pipe.zincrby(day, 1, urlencode(params.query_args(), doseq=True))
            pipe.expire(day, POPULAR_TTL)
        version = int(pipe.execute()[1])
        cached = search_cache.get(key, version, now)
    except CACHE_ERRORS as exc:
        log.warning("search cache unavailable, searching uncached: %s", exc)
        count_cache_lookup("search", "error")
        return search(params, page_size)
    page = _load_cached(cached) if cached is not None else None
    count_cache_lookup("search", "miss" if page is None else "hit")
    if page is None:
        page = search(params, page_size)
        try:
            store(key, version, params, page, now)
        except CACHE_ERRORS as exc:
            log.warning("search cache: could not store a page: %s", exc)
    return page


def store(key: str, version: int, params: SearchParams, page: SearchPage, now: float) -> None:
    """Cache a page for SEARCH_CACHE_SECONDS (open-now pages: to the end of their slot)."""
    ttl = search_cache.ttl_seconds(params, current_app.config["SEARCH_CACHE_SECONDS"], now)
    ids = [r.id for r in page.restaurants]
    distances = [page.distances[i] for i in ids] if page.distances else []
    search_cache.put(key, version, search_cache.CachedPage(ids, distances, page.next_cursor,
                                                           int(now) + ttl))  # fmt: skip


def _load_cached(cached: search_cache.CachedPage) -> SearchPage | None:
    """The cached ids as a page, in order, in one query; None if any is gone (run fresh)."""
    rows = db.session.execute(
        select(*card_columns(_open_now()))
        .join(City, City.id == Restaurant.city_id)
        .where(Restaurant.id.in_(cached.ids), Restaurant.is_active)
    ).all()
    by_id = {row.id: card_from_row(row) for row in rows}
    if len(by_id) != len(cached.ids):
        return None
    distances = dict(zip(cached.ids, cached.distances, strict=True)) if cached.distances else {}
    return SearchPage([by_id[i] for i in cached.ids], distances, cached.next_cursor)
