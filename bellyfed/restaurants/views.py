"""The home page and the restaurant page."""

from __future__ import annotations

from dataclasses import replace

from flask import abort, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from bellyfed.accounts.services import load_preferences
from bellyfed.analytics.events import record
from bellyfed.core.htmx import render_page_or_fragment
from bellyfed.core.pagecache import anonymous_page
from bellyfed.core.vocab import CONTACT_LINKS, WEEKDAYS
from bellyfed.dishes.cards import dish_card_context
from bellyfed.extensions import db
from bellyfed.leaderboards.queries import dish_types_with_counts, standings_for_dishes
from bellyfed.photos.models import Photo
from bellyfed.restaurants import bp
from bellyfed.restaurants.hours import local_now, open_state, week_table
from bellyfed.restaurants.models import Restaurant
from bellyfed.restaurants.queries import cities_with_counts, menu_sections, restaurant_by_slug
from bellyfed.reviews.models import Review
from bellyfed.reviews.queries import SORTS, reviews_for
from bellyfed.search.params import SearchParams
from bellyfed.search.queries import search
from bellyfed.votes import services as votes
from bellyfed.votes.models import ReviewVote

REVIEWS_PER_PAGE = 20


@bp.get("/")
def index() -> ResponseReturnValue:
    """Search box, cities, top dish types, and the most-ranked places (in my city, for me)."""
    cities = cities_with_counts()
    known = {city.slug for city, _ in cities}
    asked = request.args.get("city", "").strip()
    city_slug = None if asked in ("", "all") else asked
    if city_slug is not None and city_slug not in known:
        page = render_template("restaurants/index.html", cities=cities, city_slug=city_slug,
                               unknown_city=True, top=None, dish_types=[])  # fmt: skip
        return page, 404
    user = current_user if current_user.is_authenticated else None
    if not asked and user is not None and user.home_city is not None:
        city_slug = user.home_city.slug
    prefs = load_preferences(user) if user is not None else None
    base = SearchParams(city=city_slug, sort="best")
    if prefs is not None:  # preferences narrow and order what home shows first
        levels = range(prefs.price_min or 1, (prefs.price_max or 4) + 1)
        base = base.with_defaults(
            city=city_slug, prices=tuple(levels), diets=tuple(prefs.dietary_needs)
        )
    favourites = tuple(c.slug for c in prefs.favourite_cuisines) if prefs is not None else ()
    for_you = search(replace(base, cuisines=favourites), page_size=6) if favourites else None
    trending = search(replace(base, sort="trending"), page_size=6)
    return render_template(
        "restaurants/index.html",
        cities=cities,
        city_slug=city_slug,
        unknown_city=False,
        top=search(base, page_size=9),
        trending=[r for r in trending.restaurants if trending.sort_values[r.id] > 0],
        for_you=for_you,
        favourites=[c.name for c in prefs.favourite_cuisines] if prefs is not None else [],
        dish_types=dish_types_with_counts()[:12],
    )


@bp.get("/restaurants/<slug>")
@anonymous_page
def detail(slug: str) -> ResponseReturnValue:
    """Profile, hours and open-now state, contact, menu with standings, reviews and photos."""
    sort = request.args.get("reviews", "helpful")
    if sort not in SORTS:
        abort(400, description="Reviews can be sorted by “helpful” or “newest”.")
    restaurant = restaurant_by_slug(slug)
    if restaurant is None:
        abort(404, description="We couldn't find that restaurant. It may have closed or moved.")
    page = request.args.get("page", "1")
    if not page.isascii() or not page.isdigit() or not 1 <= int(page) <= 1000:
        abort(400, description="Review pages are numbered from 1.")
    page_number = int(page)
    reviews = reviews_for(
        restaurant.id, sort, REVIEWS_PER_PAGE, (page_number - 1) * REVIEWS_PER_PAGE
    )
    review_ids = [r.id for r in reviews]
    user_id = current_user.id if current_user.is_authenticated else None
    context = {
        "restaurant": restaurant,
        "reviews": reviews,
        "review_sort": sort,
        "review_page": page_number,
        "review_pages": max(1, -(-restaurant.review_count // REVIEWS_PER_PAGE)),
        "review_votes": votes.counts(ReviewVote, review_ids),
        "my_review_votes": votes.mine(ReviewVote, user_id, review_ids),
    }
    if request.headers.get("HX-Target") == "reviews":
        return render_page_or_fragment(
            "restaurants/detail.html", "reviews/_review_list.html", **context
        )
    record("view", f"restaurant:{restaurant.id}", unique=True)
    now = local_now(restaurant.timezone)
    dish_ids = [d.id for d in restaurant.dishes]
    return render_page_or_fragment(
        "restaurants/detail.html",
        "reviews/_review_list.html",
        **context,
        **dish_card_context(dish_ids),
        state=open_state(restaurant.hours, restaurant.closures, now),
        now=now,
        today=now.weekday(),
        week=week_table(restaurant.hours),
        weekdays=WEEKDAYS,
        sections=menu_sections(restaurant),
        standings=standings_for_dishes(dish_ids),
        photos=_recent_photos(restaurant.id),
    )


def _recent_photos(restaurant_id: int, limit: int = 8) -> list[Photo]:
    return list(
        db.session.scalars(
            select(Photo)
            .join(Review, Review.id == Photo.review_id)
            .where(Review.restaurant_id == restaurant_id)
            .order_by(Photo.created_at.desc(), Photo.id.desc())
            .limit(limit)
        )
    )


@bp.get("/go/<int:restaurant_id>/<link>")
def contact(restaurant_id: int, link: str) -> ResponseReturnValue:
    """Count a click on a contact link, then send the diner on (works without JavaScript)."""
    restaurant = db.session.get(Restaurant, restaurant_id)
    if restaurant is None or not restaurant.is_active or link not in CONTACT_LINKS:
        abort(404, description="That link doesn't exist.")
    targets = {
        "phone": f"tel:{restaurant.phone.replace(' ', '')}" if restaurant.phone else None,
        "website": restaurant.website,
        "directions": "https://www.google.com/maps/dir/?api=1&destination="
        f"{restaurant.latitude},{restaurant.longitude}",
    }
    if not targets[link]:
        abort(404, description=f"{restaurant.name} has no {link} listed.")
    record("click", f"restaurant:{restaurant.id}:{link}")
    return redirect(targets[link])
