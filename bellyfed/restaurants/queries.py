"""Read queries for restaurant listings."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bellyfed.extensions import db
from bellyfed.restaurants.models import City, Restaurant


def cities_with_counts() -> list[tuple[City, int]]:
    """Every city with how many active restaurants it has, largest first."""
    count = func.count(Restaurant.id)
    rows = db.session.execute(
        select(City, count)
        .join(Restaurant, (Restaurant.city_id == City.id) & Restaurant.is_active, isouter=True)
        .group_by(City.id)
        .order_by(count.desc(), City.name)
    )
    return [(city, n) for city, n in rows]


def latest_restaurants(limit: int = 30, city_slug: str | None = None) -> list[Restaurant]:
    """The newest active restaurants, optionally in one city, with city and cuisines loaded."""
    query = (
        select(Restaurant)
        .where(Restaurant.is_active)
        .options(selectinload(Restaurant.city), selectinload(Restaurant.cuisines))
        .order_by(Restaurant.created_at.desc(), Restaurant.id.desc())
        .limit(limit)
    )
    if city_slug:
        query = query.join(Restaurant.city).where(City.slug == city_slug)
    return list(db.session.scalars(query))
