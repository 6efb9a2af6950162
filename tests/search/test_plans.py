"""The key read queries use the indexes built for them, on a seeded database (EXPLAIN)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import Select, select
from sqlalchemy.dialects import postgresql
from werkzeug.datastructures import MultiDict

from bellyfed.demo.world import DemoSize
from bellyfed.extensions import db
from bellyfed.leaderboards.models import LeaderboardEntry
from bellyfed.restaurants.models import City, Restaurant
from bellyfed.search.params import parse
from bellyfed.search.queries import WORD_SIMILARITY, build_query
from tests.conftest import seeded_app


@pytest.fixture(scope="module")
def seeded(aws_endpoint: str) -> Iterator[Flask]:
    """3,000 restaurants (~26k dishes, ~40k rankings), analyzed, in a database of their own."""
    with (
        seeded_app("bellyfed_plans", aws_endpoint, DemoSize(restaurants=3000, users=3000)) as (
            app,
            _,
        ),
        app.app_context(),
    ):
        yield app
        db.session.remove()


def plan(query: Select, *, index_only_if_possible: bool = False) -> dict:
    compiled = query.compile(dialect=postgresql.psycopg.dialect())
    cursor = db.session.connection().connection.driver_connection.cursor()
    cursor.execute(f"SET LOCAL pg_trgm.word_similarity_threshold = {WORD_SIMILARITY}")
    cursor.execute(f"SET LOCAL enable_seqscan = {'off' if index_only_if_possible else 'on'}")
    cursor.execute("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params)
    raw = cursor.fetchone()[0]
    return (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]


def nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", []):
        yield from nodes(child)


def indexes_used(tree: dict) -> set[str]:
    return {n["Index Name"] for n in nodes(tree) if "Index Name" in n}


def seq_scanned(tree: dict) -> set[str]:
    return {n["Relation Name"] for n in nodes(tree) if n["Node Type"] == "Seq Scan"}


def search_plan(index_only_if_possible: bool = False, **args: str) -> dict:
    return plan(build_query(parse(MultiDict(args))), index_only_if_possible=index_only_if_possible)


def test_text_search_is_served_by_the_trigram_indexes(seeded):
    """At 3,000 restaurants PostgreSQL rightly prefers scanning the small dishes table, so this
    asks whether the indexes *can* serve every branch (with seq scans discouraged); at 100k
    restaurants the planner picks them by itself (see the issue note)."""
    tree = search_plan(q="bean sprout chiken", city="ipoh", index_only_if_possible=True)
    assert {"ix_dishes_name_trgm", "ix_restaurants_name_trgm"} <= indexes_used(tree), indexes_used(
        tree
    )
    assert not {"dishes", "restaurants"} & seq_scanned(tree), seq_scanned(tree)


def test_city_browse_sorted_by_best_reads_the_keyset_index(seeded):
    tree = search_plan(city="kuala-lumpur", sort="best")
    assert "ix_restaurants_city_best" in indexes_used(tree), indexes_used(tree)
    assert "restaurants" not in seq_scanned(tree)


def test_nearby_search_uses_the_location_index(seeded):
    tree = search_plan(near="3.1478,101.6953", radius_km="2")
    assert "ix_restaurants_location" in indexes_used(tree), indexes_used(tree)
    assert "restaurants" not in seq_scanned(tree)


def test_a_leaderboard_page_reads_the_board_index(seeded):
    board = db.session.execute(
        select(LeaderboardEntry.dish_type_id, LeaderboardEntry.city_id)
        .group_by(LeaderboardEntry.dish_type_id, LeaderboardEntry.city_id)
        .order_by(db.func.count().desc())
        .limit(1)
    ).one()
    query = (
        select(LeaderboardEntry)
        .where(LeaderboardEntry.dish_type_id == board[0], LeaderboardEntry.city_id == board[1])
        .order_by(LeaderboardEntry.rank)
        .limit(50)
    )
    tree = plan(query)
    assert "ix_leaderboard_entries_board_rank" in indexes_used(tree), indexes_used(tree)
    assert "leaderboard_entries" not in seq_scanned(tree)


def test_restaurant_by_slug_is_a_unique_index_lookup(seeded):
    slug = db.session.scalar(select(Restaurant.slug).limit(1))
    tree = plan(select(Restaurant).join(City).where(Restaurant.slug == slug))
    assert "uq_restaurants_slug" in indexes_used(tree)
