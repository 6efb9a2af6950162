"""Typo-tolerant text matching over the search documents (kept by triggers, migration 0005).

A query matches a restaurant when it is word-similar to the restaurant's name or to one of its
cuisine, dish type or dish names, each name on its own. Those names repeat across thousands of
restaurants, so they are matched once, in the dictionary of distinct names (``search_terms``),
and restaurants are found by the ids of the names that matched. Trigram checks stay on short
texts, and one GIN index answers "in this city, with this name or one of these terms".
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from flask import current_app
from sqlalchemy import BigInteger, ColumnElement, Select, bindparam, cast, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from bellyfed.extensions import db
from bellyfed.restaurants.models import Restaurant, restaurant_search_documents, search_terms

# Word similarity ("nasi lemk" in "Nasi Lemak Ayam"): below the 0.6 default, to forgive typos.
# Set on every connection (config.engine_options), with JIT off: a search's estimated cost can
# pass jit_above_cost while it runs in milliseconds, and compiling then costs 20-30 ms more.
WORD_SIMILARITY = 0.5
MAX_KEPT_QUERIES = 4096
# Shorter queries have too few trigrams: they match the start of restaurant names instead.
MIN_TRIGRAM_QUERY = 3


def matching_terms(q: str) -> list[int]:
    """Ids of the cuisine, dish type and dish names ``q`` is word-similar to.

    Run apart from the search so the planner sees the ids as constants: with the column's
    statistics it knows how common they are, and walks a sort index for common dishes instead of
    collecting and sorting thousands of restaurants.

    The answer for a query is kept in the process for AGGREGATE_CACHE_SECONDS (a name added to
    the dictionary meanwhile is matched through its restaurants' names only, until then); the
    typo threshold and JIT off are set per connection (``config.engine_options``).
    """
    if len(q) < MIN_TRIGRAM_QUERY:
        return []
    seconds = current_app.config.get("AGGREGATE_CACHE_SECONDS", 60)
    kept: dict[str, tuple[float, list[int]]] = current_app.extensions.setdefault("search_terms", {})
    now = time.monotonic()
    hit = kept.get(q) if seconds else None
    if hit is not None and hit[0] > now:
        return hit[1]
    terms = search_terms.c
    ids = list(db.session.scalars(select(terms.id).where(terms.term.op("%>")(q))))
    if seconds:
        if len(kept) >= MAX_KEPT_QUERIES:  # a crude bound: start again rather than grow
            kept.clear()
        kept[q] = (now + seconds, ids)
    return ids


def text_values(q: str, term_ids: Sequence[int]) -> dict[str, object]:
    """The values of the parameters ``text_matches`` binds (by name: ``statements``)."""
    if len(q) < MIN_TRIGRAM_QUERY:
        return {"pattern": q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"}
    return {"q": q, "term_ids": list(term_ids)} if term_ids else {"q": q}


def text_matches(
    q: str, term_ids: Sequence[int], city_id: ColumnElement[int] | None
) -> ColumnElement[bool]:
    """Restaurants whose name, or one of the names in ``term_ids``, matches ``q``."""
    if len(q) < MIN_TRIGRAM_QUERY:  # a prefix match on names
        pattern = text_values(q, term_ids)["pattern"]
        return Restaurant.name.ilike(bindparam("pattern", pattern, type_=Restaurant.name.type))
    return Restaurant.id.in_(matching_documents(q, term_ids, city_id))


def matching_documents(
    q: str, term_ids: Sequence[int], city_id: ColumnElement[int] | None
) -> Select:
    """The ids of the restaurants whose document matches ``q`` (at least MIN_TRIGRAM_QUERY long).

    ``q`` and ``term_ids`` are the parameters ``q`` and ``term_ids`` (``text_values``)."""
    docs = restaurant_search_documents.c
    # word_similarity(q, name) above the threshold
    matched = docs.name.op("%>")(bindparam("q", q, type_=docs.name.type))
    if term_ids:  # the cheap test first: PostgreSQL evaluates OR in the order written
        ids = cast(
            bindparam("term_ids", list(term_ids), type_=ARRAY(BigInteger)), ARRAY(BigInteger)
        )
        matched = or_(docs.term_ids.overlap(ids), matched)
    matching = select(docs.restaurant_id).where(matched)
    if city_id is not None:
        matching = matching.where(docs.city_id == city_id)
    return matching
