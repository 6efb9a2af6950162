"""Read queries for the home page and the restaurant page."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from bellyfed.core.memo import aggregate
from bellyfed.dishes.models import Dish
from bellyfed.extensions import db
from bellyfed.restaurants.models import City, Restaurant


@aggregate
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


def restaurant_by_slug(slug: str) -> Restaurant | None:
    """An active restaurant with everything its page shows, in a fixed handful of queries."""
    return db.session.scalar(
        select(Restaurant)
        .where(Restaurant.slug == slug, Restaurant.is_active)
        .options(
            joinedload(Restaurant.city),
            selectinload(Restaurant.cuisines),
            selectinload(Restaurant.hours),
            selectinload(Restaurant.closures),
            selectinload(Restaurant.menu_categories),
            selectinload(Restaurant.dishes).joinedload(Dish.dish_type),
        )
    )


def menu_sections(restaurant: Restaurant) -> list[tuple[str, list[Dish]]]:
    """The menu grouped by section in menu order; dishes without a section come last."""
    by_section: dict[int | None, list[Dish]] = {}
    for dish in sorted(restaurant.dishes, key=lambda d: (d.position, d.id)):
        by_section.setdefault(dish.menu_category_id, []).append(dish)
    sections = [(c.name, by_section.get(c.id, [])) for c in restaurant.menu_categories]
    if by_section.get(None):
        sections.append(("More", by_section[None]))
    return [(name, dishes) for name, dishes in sections if dishes]
