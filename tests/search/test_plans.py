"""The key read queries use the indexes built for them, on a seeded database (EXPLAIN)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import Select, select, text
from sqlalchemy.dialects import postgresql
from werkzeug.datastructures import MultiDict

from bellyfed.demo.world import DemoSize
from bellyfed.extensions import db
from bellyfed.leaderboards.models import LeaderboardEntry
from bellyfed.restaurants.models import City, Restaurant, restaurant_search_documents
from bellyfed.search.opening import FEW_OPEN_MATCHES, half_hours_now
from bellyfed.search.params import parse
from bellyfed.search.queries import build_query, cards_query
from bellyfed.search.text import matching_documents, matching_terms
from tests.conftest import seeded_app

SEARCH_INDEX = "ix_restaurant_search_documents_city_id_name_term_ids_open_slots"


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
        # The loader's writes sit in the GIN index's pending list until autovacuum merges them;
        # merge now, so the plans are those of a database that has been up for a while.
        db.session.execute(text("SELECT gin_clean_pending_list(:index)"), {"index": SEARCH_INDEX})
        db.session.execute(text("ANALYZE restaurant_search_documents"))
        db.session.commit()
        yield app
        db.session.remove()


def plan(query: Select, *, index_only_if_possible: bool = False) -> dict:
    compiled = query.compile(
        dialect=postgresql.psycopg.dialect(), compile_kwargs={"render_postcompile": True}
    )
    cursor = db.session.connection().connection.driver_connection.cursor()
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


def relations(tree: dict) -> set[str]:
    return {n["Relation Name"] for n in nodes(tree) if "Relation Name" in n}


def search_plan(index_only_if_possible: bool = False, **args: str) -> dict:
    """The plan of the page query, after the dictionary lookup ``search()`` runs first."""
    params = parse(MultiDict(args))
    term_ids = []
    if params.q:
        term_ids = matching_terms(params.q)
    query = build_query(params, term_ids=term_ids)
    return plan(query, index_only_if_possible=index_only_if_possible)


def test_text_search_is_served_by_the_search_document_index(seeded):
    """With seq scans discouraged: the text is matched in the search documents through their
    GIN index, and no menu table is read at all (the documents replaced four trigram joins)."""
    tree = search_plan(q="bean sprout chiken", city="ipoh", index_only_if_possible=True)
    assert SEARCH_INDEX in indexes_used(tree), indexes_used(tree)
    assert not {"dishes", "dish_types", "cuisines", "restaurant_cuisines"} & relations(tree)
    assert not {"restaurants", "restaurant_search_documents"} & seq_scanned(tree)


def test_city_text_search_reads_the_city_from_the_search_index(seeded):
    """At the seeded size, left to itself, a city text search finds the city's documents in the
    GIN index (city_id is its first column, through btree_gin) and scans no large table."""
    tree = search_plan(q="nasi lemk", city="kuala-lumpur", price="1")
    assert SEARCH_INDEX in indexes_used(tree), indexes_used(tree)
    assert not {"dishes", "dish_types", "cuisines", "restaurant_cuisines"} & relations(tree)
    assert not {"restaurants", "restaurant_search_documents"} & seq_scanned(tree)


def test_city_browse_sorted_by_best_reads_the_keyset_index(seeded):
    tree = search_plan(city="kuala-lumpur", sort="best")
    assert "ix_restaurants_city_best" in indexes_used(tree), indexes_used(tree)
    assert "restaurants" not in seq_scanned(tree)


def test_nearby_search_uses_the_location_index(seeded):
    tree = search_plan(near="3.1478,101.6953", radius_km="2")
    assert "ix_restaurants_location" in indexes_used(tree), indexes_used(tree)
    assert "restaurants" not in seq_scanned(tree)


def test_open_now_candidates_come_from_the_search_index_alone(seeded):
    """Text and the current half hour intersected in the documents' GIN index, not a walk."""
    params = parse(MultiDict({"q": "cendol", "city": "penang", "open_now": "1"}))
    term_ids = matching_terms(params.q)
    docs = restaurant_search_documents.c
    query = (
        matching_documents(params.q, term_ids, select(City.id).where(City.slug == "penang")
                           .scalar_subquery())
        .where(docs.open_slots.overlap(half_hours_now()))
        .limit(FEW_OPEN_MATCHES + 1)
    )  # fmt: skip
    tree = plan(query)
    assert indexes_used(tree) == {SEARCH_INDEX}, indexes_used(tree)
    conditions = " ".join(n.get("Index Cond", "") for n in nodes(tree))
    assert "open_slots &&" in conditions, conditions
    assert not {"restaurants", "restaurant_search_documents"} & seq_scanned(tree)


@pytest.mark.parametrize(
    "args", [{"city": "kuala-lumpur"}, {"q": "nasi lemak", "city": "penang", "open_now": "1"}]
)
def test_a_pages_cards_read_cuisines_hours_and_closures_by_restaurant(seeded, args):
    """The cards of a page (cuisines, open now) are read for its rows alone, by restaurant id."""
    params = parse(MultiDict(args))
    tree = plan(cards_query(params, term_ids=matching_terms(params.q) if params.q else ()))
    used = indexes_used(tree)
    assert {"pk_restaurant_cuisines", "pk_restaurants"} <= used, used
    assert any(name.startswith(("uq_operating_hours", "ix_operating_hours")) for name in used), used
    assert not {"restaurants", "operating_hours", "restaurant_cuisines"} & seq_scanned(tree)


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
