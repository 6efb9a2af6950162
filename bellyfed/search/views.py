"""/search: the full page, or just the results when HTMX asks (typing in the box)."""

from __future__ import annotations

from flask import request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from bellyfed.accounts.services import load_preferences
from bellyfed.analytics.events import record
from bellyfed.core.htmx import is_htmx, render_page_or_fragment
from bellyfed.core.pagecache import anonymous_page
from bellyfed.core.vocab import DIETARY_TAGS
from bellyfed.search import bp
from bellyfed.search.params import SORTS, BadSearch, SearchParams, parse, salvage
from bellyfed.search.queries import cached_search, cities, cuisines, known_city

PAGE = "search/search.html"
FRAGMENT = "search/_results.html"


def _options() -> dict[str, object]:
    """The filter form's choices: cities and cuisines change seldom, so each process keeps them
    for AGGREGATE_CACHE_SECONDS (a new city is searchable at once, see ``known_city``)."""
    return {"cities": cities(), "cuisines": cuisines(), "diet_tags": DIETARY_TAGS, "sorts": SORTS}


def _restaurant_url() -> str:
    """The restaurant page's URL without the slug: each card appends its own (a CHECK keeps slugs
    URL-safe), where a ``url_for`` per card was half of the results' template time."""
    return url_for("restaurants.detail", slug="-")[:-1]


def _personalize(params: SearchParams) -> tuple[SearchParams, str | None]:
    """A signed-in diner's home city, dietary needs and price range fill unset filters."""
    if not current_user.is_authenticated or params.explicit_filters:
        return params, None
    prefs = load_preferences(current_user)
    city = current_user.home_city.slug if current_user.home_city else None
    prices = (
        tuple(range(prefs.price_min or 1, (prefs.price_max or 4) + 1))
        if prefs and (prefs.price_min or prefs.price_max)
        else ()
    )
    diets = tuple(prefs.dietary_needs) if prefs else ()
    personal = params.with_defaults(city=city, prices=prices, diets=diets)
    if personal == params:
        return params, None
    return personal, "Filtered by your preferences."


def _normalized(params: SearchParams) -> str:
    """The search as a usage metric: lower-cased text plus its filters, location left out."""
    parts = [params.q.lower()[:80] or "(browse)"]
    parts += [f"city={params.city}"] if params.city else []
    parts += [f"cuisine={','.join(params.cuisines)}"] if params.cuisines else []
    parts += [f"price={','.join(map(str, params.prices))}"] if params.prices else []
    parts += [f"diet={','.join(params.diets)}"] if params.diets else []
    parts += ["open-now"] if params.open_now else []
    return " ".join(parts)


def _refused(error: str, params: SearchParams) -> ResponseReturnValue:
    """The form as typed plus the reason. HTMX gets a 200 so it swaps the message in while the
    diner types (htmx ignores 4xx bodies); a page load gets the honest 400."""
    status = 200 if is_htmx() else 400
    return render_page_or_fragment(
        PAGE, FRAGMENT, status, error=error, params=params, page=None, **_options()
    )


@bp.get("/search")
@anonymous_page
def search() -> ResponseReturnValue:
    """Search restaurants by text and filters, sorted and paged by cursor.

    Signed-out visitors may get the page from the page cache (bellyfed/core/pagecache.py): the
    analytics of the search are counted, but a hit does not add to the popular searches the
    worker keeps warm (each process adds a search at most once per PAGE_CACHE_SECONDS).
    """
    try:
        params = parse(request.args)
    except BadSearch as exc:
        return _refused(str(exc), salvage(request.args))
    params, notice = _personalize(params)
    if params.city and not known_city(params.city):
        return _refused(f"We don't know a city called “{params.city}”.", params)
    # A search, not the next page of one, nor a keystroke of live search-as-you-type.
    first_search = not params.cursor and request.headers.get("HX-Trigger") != "q"
    page = cached_search(params, track=first_search)
    if first_search:
        record("metric", "searches")
        record("search", _normalized(params))
    next_url = (
        url_for("search.search", **params.query_args(), cursor=page.next_cursor)
        if page.next_cursor
        else None
    )
    return render_page_or_fragment(
        PAGE, FRAGMENT, params=params, page=page, next_url=next_url, notice=notice,
        everything_url=url_for("search.search", q=params.q or None, all=1),
        restaurant_url=_restaurant_url(), **_options(),
    )  # fmt: skip
