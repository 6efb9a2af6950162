"""Leaderboard pages: every dish type, one dish type across cities, one city's full board."""

from __future__ import annotations

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue

from bellyfed.analytics.events import record
from bellyfed.core.htmx import render_page_or_fragment
from bellyfed.core.pagecache import anonymous_page
from bellyfed.dishes.cards import dish_card_context
from bellyfed.dishes.models import DishType
from bellyfed.leaderboards import bp, scoring
from bellyfed.leaderboards.queries import (
    board,
    cities_with_boards,
    city_boards,
    city_by_slug,
    dish_type_by_slug,
    dish_types_with_counts,
)

PAGE_SIZE = 50


@bp.context_processor
def scoring_facts() -> dict[str, int | float]:
    """The prior and two worked examples, so "How this is scored" states what the code does."""
    first, second = scoring.points_for(1), scoring.points_for(2)
    return {
        "prior_points": scoring.PRIOR_POINTS,
        "prior_rankers": scoring.PRIOR_RANKERS,
        "prior_position": scoring.TOP_POSITIONS + 1 - scoring.PRIOR_POINTS,
        "example_single_first": scoring.bayesian_score(first, 1),
        "example_forty_firsts": scoring.bayesian_score(31 * first + 9 * second, 40),
    }


@bp.get("/dishes")
@anonymous_page
def index() -> ResponseReturnValue:
    """Every dish type, with how many diners ranked it."""
    return render_template("leaderboards/index.html", dish_types=dish_types_with_counts())


@bp.get("/dishes/<type_slug>")
@anonymous_page
def dish_type(type_slug: str) -> ResponseReturnValue:
    """One dish type: each city's top 3, linking to the full boards."""
    kind = _dish_type_or_404(type_slug)
    record("view", f"dish_type:{kind.id}", unique=True)
    return render_template(
        "leaderboards/dish_type.html", dish_type=kind, city_boards=city_boards(kind, top=3)
    )


@bp.get("/dishes/<type_slug>/<city_slug>")
@anonymous_page
def city_board(type_slug: str, city_slug: str) -> ResponseReturnValue:
    """A city's full board for a dish type, a page at a time (``?after=<rank>``)."""
    kind = _dish_type_or_404(type_slug)
    city = city_by_slug(city_slug)
    if city is None:
        abort(404, description=f"We don't know a city called “{city_slug}”.")
    after = _after_rank()
    record("view", f"dish_type:{kind.id}", unique=True)
    boards = cities_with_boards(kind)
    size = next((n for c, n in boards if c.id == city.id), 0)
    rows = board(kind, city, limit=PAGE_SIZE, after_rank=after)
    return render_page_or_fragment(
        "leaderboards/city_board.html",
        "leaderboards/_board.html",
        dish_type=kind,
        city=city,
        rows=rows,
        size=size,
        after=after,
        next_after=after + PAGE_SIZE if after + PAGE_SIZE < size else None,
        previous_after=max(after - PAGE_SIZE, 0) if after else None,
        other_boards=[(c, n) for c, n in boards if c.id != city.id],
        **dish_card_context(row.dish.id for row in rows),  # for dishes/_dish_actions.html
    )


def _dish_type_or_404(slug: str) -> DishType:
    kind = dish_type_by_slug(slug)
    if kind is None:
        abort(404, description=f"We don't know a dish called “{slug}”.")
    return kind


def _after_rank() -> int:
    """The keyset cursor: the last rank of the previous page (0 for the first page)."""
    raw = request.args.get("after", "0")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        abort(400, description="The page link is broken: “after” must be a rank number.")
    return int(raw)
