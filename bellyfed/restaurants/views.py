"""Home page: the cities and the newest restaurants (the full search UI arrives in issue 3)."""

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue

from bellyfed.restaurants import bp
from bellyfed.restaurants.queries import cities_with_counts, latest_restaurants


@bp.get("/")
def index() -> ResponseReturnValue:
    """List cities and restaurants; ``?city=<slug>`` narrows to one city."""
    city_slug = request.args.get("city", "").strip() or None
    cities = cities_with_counts()
    known = {city.slug for city, _ in cities}
    if city_slug is not None and city_slug not in known:
        return render_template(
            "restaurants/index.html",
            cities=cities,
            restaurants=[],
            city_slug=city_slug,
            unknown_city=True,
        ), 404
    return render_template(
        "restaurants/index.html",
        cities=cities,
        restaurants=latest_restaurants(city_slug=city_slug),
        city_slug=city_slug,
        unknown_city=False,
    )


@bp.get("/restaurants/<slug>")
def detail(slug: str) -> ResponseReturnValue:
    """Placeholder until the restaurant page lands (issue 3 work in progress)."""
    abort(404)
