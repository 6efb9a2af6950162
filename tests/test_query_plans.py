"""The reads behind the restaurant page, the leaderboards, a diner's own pages and the API lists
use the indexes built for them, on a seeded database.

Each test calls the app's own query code, records every statement it sends (selectin loads
included) and EXPLAINs each with its parameters. ``tests/search/test_plans.py`` covers the
search itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Row, event, func, select, text
from werkzeug.datastructures import MultiDict

from bellyfed.accounts.queries import top_fives
from bellyfed.api.reviews import present
from bellyfed.demo.world import DemoSize
from bellyfed.dishes.models import Dish, DishType
from bellyfed.extensions import db
from bellyfed.leaderboards.models import LeaderboardEntry
from bellyfed.leaderboards.queries import board, city_boards, standings_for_dishes
from bellyfed.rankings.models import Ranking
from bellyfed.rankings.queries import history_for, lists_for, my_rankings_for, recently_dropped
from bellyfed.restaurants.models import City, Restaurant
from bellyfed.restaurants.queries import restaurant_by_slug
from bellyfed.restaurants.views import REVIEWS_PER_PAGE, _recent_photos
from bellyfed.reviews.models import Review
from bellyfed.reviews.queries import reviews_for
from bellyfed.search.params import parse
from bellyfed.search.queries import search
from bellyfed.votes import services as votes
from bellyfed.votes.models import DishVote, ReviewVote
from tests.conftest import seeded_app

# Tables that grow with restaurants, diners or activity: none may be read from end to end.
LARGE_TABLES = frozenset({
    "restaurants", "dishes", "rankings", "ranking_history", "reviews", "review_votes",
    "dish_votes", "operating_hours", "photos", "comments", "leaderboard_entries",
})  # fmt: skip
DEEP_REVIEW_PAGE = 50  # offset 980
CURSOR_DEPTH = 500  # rows into the city before the page a cursor points at
BIG_CITY = "kuala-lumpur"  # the largest city in the demo data (~860 of 3,000 restaurants)
# "This diner's rows": any index leading with user_id serves it as well as another.
DINERS_RANKINGS = frozenset(
    {"uq_rankings_user_id_dish_id", "uq_rankings_user_id_dish_type_id_position"}
)
DINERS_DISH_VOTES = frozenset({"uq_dish_votes_user_id_dish_id", "ix_dish_votes_user_id_updated_at"})


@pytest.fixture(scope="module")
def seeded(aws_endpoint: str) -> Iterator[Flask]:
    """3,000 restaurants (~26k dishes, ~21k rankings, ~7k reviews), analyzed, in their own
    database, plus photo rows for the reviews."""
    size = DemoSize(restaurants=3000, users=3000)
    with seeded_app("bellyfed_query_plans", aws_endpoint, size) as (app, _), app.app_context():
        add_review_photos()
        yield app
        db.session.remove()


def add_review_photos() -> None:
    """The demo data has no photos (their bytes would live in S3), and an empty table's plan says
    nothing: give each review one to three photo rows (~15k), as diners' uploads would."""
    db.session.execute(text(
        "INSERT INTO photos (uploader_id, review_id, position, storage_key, content_type, width,"
        " height, byte_size, sha256)"
        " SELECT r.user_id, r.id, n, 'plans/' || r.id || '/' || n, 'image/jpeg', 1200, 900,"
        " 250000, md5(r.id || '/' || n) || md5(n || '/' || r.id)"
        " FROM reviews r CROSS JOIN LATERAL generate_series(0, r.id % 3) AS n"
    ))  # fmt: skip
    db.session.execute(text("ANALYZE photos"))
    db.session.commit()


@dataclass(frozen=True)
class Plan:
    """One statement the app sent, and PostgreSQL's plan for it."""

    sql: str
    tree: dict


def issued_by(call: Callable[[], object]) -> list[tuple[str, Any]]:
    """Every statement ``call`` sends, with its parameters, starting from an empty session (so
    the ORM cannot skip a load because the rows are already there)."""
    db.session.expunge_all()
    sent: list[tuple[str, Any]] = []

    def keep(conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.startswith("SET LOCAL"):  # a setting (search's serial plans): no plan
            sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    return sent


def plans_of(call: Callable[[], object], *, index_only_if_possible: bool = False) -> list[Plan]:
    """EXPLAIN each statement ``call`` sends (with seq scans discouraged if asked)."""
    statements = issued_by(call)
    cursor = db.session.connection().connection.driver_connection.cursor()
    cursor.execute(f"SET LOCAL enable_seqscan = {'off' if index_only_if_possible else 'on'}")
    plans = []
    for statement, parameters in statements:
        cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
        raw = cursor.fetchone()[0]
        plans.append(
            Plan(statement, (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"])
        )
    return plans


def nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", []):
        yield from nodes(child)


def indexes_used(plans: list[Plan]) -> set[str]:
    return {n["Index Name"] for p in plans for n in nodes(p.tree) if "Index Name" in n}


def read_in_full(plans: list[Plan]) -> set[str]:
    """Tables read end to end: seq scans, and index scans with no condition (a whole index)."""
    return {
        n["Relation Name"]
        for p in plans
        for n in nodes(p.tree)
        if n["Node Type"] == "Seq Scan"
        or (n["Node Type"] in ("Index Scan", "Index Only Scan") and "Index Cond" not in n)
    }


def outline(plans: list[Plan]) -> str:
    """The plans, one node a line, for a failure message."""
    return "\n".join(
        line for p in plans for line in (p.sql[:140].replace("\n", " "), *_lines(p.tree, 1))
    )


def _lines(node: dict, depth: int) -> Iterator[str]:
    condition = node.get("Index Cond") or node.get("Recheck Cond") or node.get("Filter") or ""
    yield (f"{'  ' * depth}-> {node['Node Type']} {node.get('Relation Name', '')} "
           f"{node.get('Index Name', '')} {condition}")  # fmt: skip
    for child in node.get("Plans", []):
        yield from _lines(child, depth + 1)


def assert_served(plans: list[Plan], needed: Iterable[str | frozenset[str]]) -> None:
    """Each needed index (or one of a set of equally good ones) serves the statements, and no large
    table is read in full."""
    assert plans, "no statement was sent"
    used = indexes_used(plans)
    missing = [n for n in needed if not used & ({n} if isinstance(n, str) else n)]
    assert not missing, f"none of {missing} used\n" + outline(plans)
    assert not LARGE_TABLES & read_in_full(plans), outline(plans)


@pytest.fixture(scope="module")
def restaurant(seeded: Flask) -> Row:
    """The restaurant with the most reviews (its id and slug): its page is the heaviest."""
    return db.session.execute(
        select(Restaurant.id, Restaurant.slug)
        .join(Review, Review.restaurant_id == Restaurant.id)
        .group_by(Restaurant.id)
        .order_by(func.count().desc(), Restaurant.id)
        .limit(1)
    ).one()


@pytest.fixture(scope="module")
def menu(seeded: Flask, restaurant: Row) -> list[int]:
    return list(db.session.scalars(select(Dish.id).where(Dish.restaurant_id == restaurant.id)))


@pytest.fixture(scope="module")
def diner(seeded: Flask) -> int:
    """The diner with the most rankings."""
    return db.session.scalar(
        select(Ranking.user_id).group_by(Ranking.user_id).order_by(func.count().desc()).limit(1)
    )


@pytest.fixture(scope="module")
def voter(seeded: Flask) -> int:
    """The diner with the most dish votes."""
    return db.session.scalar(
        select(DishVote.user_id).group_by(DishVote.user_id).order_by(func.count().desc()).limit(1)
    )


@pytest.fixture(scope="module")
def biggest_board(seeded: Flask) -> tuple[DishType, City, int]:
    """The (dish type, city) board with the most dishes, and its size."""
    dish_type_id, city_id, size = db.session.execute(
        select(LeaderboardEntry.dish_type_id, LeaderboardEntry.city_id, func.count())
        .group_by(LeaderboardEntry.dish_type_id, LeaderboardEntry.city_id)
        .order_by(func.count().desc())
        .limit(1)
    ).one()
    return db.session.get(DishType, dish_type_id), db.session.get(City, city_id), size


# The restaurant page


def test_restaurant_page_loads_its_rows_by_restaurant_id(restaurant):
    plans = plans_of(lambda: restaurant_by_slug(restaurant.slug))
    assert_served(plans, {
        "uq_restaurants_slug", "uq_dishes_restaurant_id_slug", "pk_restaurant_cuisines",
        "uq_operating_hours_restaurant_id_weekday_opens_at",
        "uq_menu_categories_restaurant_id_name",
    })  # fmt: skip


@pytest.mark.parametrize("sort", ["helpful", "newest"])
@pytest.mark.parametrize("page", [1, DEEP_REVIEW_PAGE])
def test_review_page_reads_only_the_restaurants_reviews(restaurant, sort, page):
    """Reviews are paged by OFFSET (page numbers in the URL): even a deep page reads and sorts
    this restaurant's reviews only."""
    offset = (page - 1) * REVIEWS_PER_PAGE
    query, *_loads = plans_of(lambda: reviews_for(restaurant.id, sort, REVIEWS_PER_PAGE, offset))
    expected = {"ix_reviews_restaurant_id_created_at"}
    if sort == "helpful":
        expected.add("ix_review_votes_review_id_value")
    assert_served([query], expected)


def test_reviews_photos_and_comments_load_by_review_id(restaurant):
    """~700 comments at this size: scanning them is the planner's honest choice, so this asks
    whether the indexes *can* serve the loads (with seq scans discouraged)."""
    _query, *loads = plans_of(
        lambda: reviews_for(restaurant.id, "helpful", REVIEWS_PER_PAGE, 0),
        index_only_if_possible=True,
    )
    assert_served(loads, {"ix_photos_review_id_position", "ix_comments_review_id_created_at"})


def test_recent_photos_start_from_the_restaurants_reviews(restaurant):
    plans = plans_of(lambda: _recent_photos(restaurant.id))
    assert_served(plans, {"ix_reviews_restaurant_id_created_at", "ix_photos_review_id_position"})


def test_dish_vote_counts_read_the_dish_vote_index(menu):
    plans = plans_of(lambda: votes.counts(DishVote, menu))
    assert_served(plans, {"ix_dish_votes_dish_id_value"})


def test_review_vote_counts_read_the_review_vote_index(restaurant):
    review_ids = [r.id for r in reviews_for(restaurant.id, "newest", REVIEWS_PER_PAGE)]
    plans = plans_of(lambda: votes.counts(ReviewVote, review_ids))
    assert_served(plans, {"ix_review_votes_review_id_value"})


def test_a_diners_own_marks_on_the_menu_are_key_lookups(menu, voter):
    dish_votes, rankings = plans_of(
        lambda: (votes.mine(DishVote, voter, menu), my_rankings_for(voter, menu))
    )
    assert_served([dish_votes], [DINERS_DISH_VOTES])
    assert_served([rankings], [DINERS_RANKINGS])


def test_menu_standings_read_the_entries_of_those_dishes(menu):
    plans = plans_of(lambda: standings_for_dishes(menu))
    assert_served(plans, {"ix_leaderboard_entries_dish_id", "ix_leaderboard_entries_board_rank"})


# Leaderboards


def test_dish_type_page_reads_only_that_dish_types_boards(biggest_board):
    dish_type, _city, _size = biggest_board
    plans = plans_of(lambda: city_boards(dish_type, top=3))
    assert len(plans) == 2  # cities_with_boards, then every city's top rows
    assert_served(plans, {"ix_leaderboard_entries_board_rank"})


def test_a_deep_board_page_starts_at_its_rank(biggest_board):
    dish_type, city, size = biggest_board
    plans = plans_of(lambda: board(dish_type, city, limit=50, after_rank=size - 10))
    assert_served(plans, {"ix_leaderboard_entries_board_rank"})
    starts = [n.get("Index Cond", "") for n in nodes(plans[0].tree)]
    assert any("rank >" in cond for cond in starts), outline(plans)


# A diner's own pages


def test_my_top_fives_read_the_diners_rankings(diner):
    my_lists, public_profile = plans_of(lambda: (lists_for(diner), top_fives(diner)))
    assert_served([my_lists], [DINERS_RANKINGS])
    assert_served([public_profile], [DINERS_RANKINGS])


def test_my_ranking_history_reads_the_diners_history(diner):
    history, dropped = plans_of(lambda: (history_for(diner), recently_dropped(diner)))
    assert_served([history], {"ix_ranking_history_user_id_created_at"})
    assert_served([dropped], {"ix_ranking_history_user_id_created_at", DINERS_RANKINGS})


def test_my_votes_read_the_voters_votes(voter):
    plans = plans_of(lambda: votes.history(voter))
    assert_served(plans, {"ix_dish_votes_user_id_updated_at", "ix_review_votes_user_id_updated_at"})


# The API lists


@pytest.mark.parametrize(
    ("sort", "index"),
    [
        ("best", "ix_restaurants_city_best"),
        ("popular", "ix_restaurants_city_popular"),
        ("newest", "ix_restaurants_city_newest"),
    ],
)
def test_a_deep_restaurant_list_page_is_one_index_range(seeded, sort, index):
    """The API's restaurant list (and /search) at a cursor deep into the city: the cursor is an
    index condition and the index gives the order, so no page sorts the whole city."""
    first = parse(MultiDict({"city": BIG_CITY, "sort": sort}))
    cursor = search(first, page_size=CURSOR_DEPTH).next_cursor
    assert cursor is not None
    params = parse(MultiDict({"city": BIG_CITY, "sort": sort, "cursor": cursor}))
    page, *loads = plans_of(lambda: search(params))
    assert_served([page, *loads], {index, "pk_restaurant_cuisines"})
    # The page's rows are chosen under the Limit; its cards are read (and its 21 rows put back in
    # order) above it.
    limit = next(n for n in nodes(page.tree) if n["Node Type"] == "Limit")
    page_nodes = list(nodes(limit))
    assert any("ROW(" in n.get("Index Cond", "") for n in page_nodes), outline([page])
    assert not {"Sort", "Incremental Sort"} & {n["Node Type"] for n in page_nodes}, outline([page])


def test_api_review_list_counts_votes_and_names_dishes_by_id(seeded, restaurant):
    """Seq scans discouraged for the comments load, as above."""
    with seeded.test_request_context():
        plans = plans_of(
            lambda: present(reviews_for(restaurant.id, "helpful", REVIEWS_PER_PAGE, 0)),
            index_only_if_possible=True,
        )
    assert_served(plans, {
        "ix_reviews_restaurant_id_created_at", "ix_review_votes_review_id_value", "pk_dishes",
    })  # fmt: skip
