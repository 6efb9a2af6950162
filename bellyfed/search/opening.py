"""Text searches "open now": candidates from the search documents' half hours (migration 0008).

A restaurant's document holds ``open_slots``: ``search_timezones.id * 336 + h`` for every local
half hour of the week ``h`` (0-335, Monday 00:00 first) that its opening hours touch, a superset
of the minutes it is open. So "matches the text and opens in the half hour it is now, where it
is" is one search of the documents' GIN index. When few restaurants pass (a breakfast dish at
night), the page is chosen among them alone: walking the city's sort index for them reads the
whole city (150-340 ms at 100k restaurants). When many pass, that walk finds a page early.

The lookup reads every index entry that passes, so it is skipped at busy half hours (lunch,
dinner), when the walk is quick anyway. How busy a half hour is comes from the planner's
statistics of ``open_slots`` (ANALYZE), kept per process like other aggregates.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, Select, bindparam, cast, func, select, text

from bellyfed.core.memo import aggregate
from bellyfed.extensions import db
from bellyfed.restaurants.models import City, restaurant_search_documents, search_timezones
from bellyfed.search import statements
from bellyfed.search.text import matching_documents, text_values

SLOTS_PER_WEEK = 336  # half hours
# At most this many candidates are sorted directly; more, and the sort-index walk is used.
FEW_OPEN_MATCHES = 400
# A half hour in which at least this share of a time zone's restaurants open is busy.
BUSY_HALF_HOUR = 0.4

SHARES_SQL = text("""
SELECT t.name AS zone, z.freq AS zone_share, u.slot - t.id * 336 AS half_hour, u.freq AS share
FROM pg_stats s
CROSS JOIN LATERAL unnest(s.most_common_elems::text::int[], s.most_common_elem_freqs)
    AS u (slot, freq)
JOIN search_timezones t ON t.id = u.slot / 336
JOIN (
    SELECT v.name, v.freq FROM pg_stats r
    CROSS JOIN LATERAL unnest(r.most_common_vals::text::text[], r.most_common_freqs)
        AS v (name, freq)
    WHERE r.schemaname = current_schema() AND r.tablename = 'restaurants'
      AND r.attname = 'timezone'
) z ON z.name = t.name
WHERE s.schemaname = current_schema() AND s.tablename = 'restaurant_search_documents'
  AND s.attname = 'open_slots'
""")


@functools.cache
def half_hours_now() -> ColumnElement[list[int]]:
    """The current local half hour of the week in every time zone, numbered as ``open_slots``."""
    zones = search_timezones.c
    local = func.timezone(zones.name, func.now())
    half_hour = cast(
        (func.extract("isodow", local) - 1) * 48
        + func.extract("hour", local) * 2
        + func.floor(func.extract("minute", local) / 30),
        Integer,
    )
    # The id is a smallint: widen it first, or zones past the 97th overflow.
    slot = cast(zones.id, Integer) * SLOTS_PER_WEEK + half_hour
    return select(func.array_agg(slot)).scalar_subquery()


def candidates(q: str, term_ids: Sequence[int], city: str | None) -> list[int] | None:
    """The restaurants that match the text and open in the current half hour, when there are at
    most FEW_OPEN_MATCHES of them; None when there are more."""
    values = {**text_values(q, term_ids), **({"city": city} if city else {})}
    values["limit"] = FEW_OPEN_MATCHES + 1

    def build() -> Select:
        docs = restaurant_search_documents.c
        city_id = select(City.id).where(City.slug == bindparam("city", city)).scalar_subquery()
        return (
            matching_documents(q, term_ids, city_id if city else None)
            .where(docs.open_slots.overlap(half_hours_now()))
            .limit(bindparam("limit", FEW_OPEN_MATCHES + 1))
        )

    ids = [row[0] for row in statements.execute(("candidates", *sorted(values)), build, values)]
    return ids if len(ids) <= FEW_OPEN_MATCHES else None


@aggregate
def open_shares() -> list[dict[str, tuple[float, dict[int, float]]]]:
    """[{time zone: (its share of restaurants, {half hour: share of all documents open in it})}]
    from the statistics; [{}] before the tables were analyzed."""
    shares: dict[str, tuple[float, dict[int, float]]] = {}
    for row in db.session.execute(SHARES_SQL):
        shares.setdefault(row.zone, (row.zone_share, {}))[1][row.half_hour] = row.share
    return [shares]


def _half_hour(zone: str, at: datetime | None = None) -> int:
    local = (at or datetime.now(ZoneInfo("UTC"))).astimezone(ZoneInfo(zone))
    return local.weekday() * 48 + local.hour * 2 + local.minute // 30


def busy(zone: str | None, at: datetime | None = None) -> bool:
    """Whether at least BUSY_HALF_HOUR of the restaurants open now: of the time zone's, or of all
    of them (``zone`` None). Unknown (no statistics yet) is not busy."""
    shares = open_shares()[0]
    if zone is not None:
        zone_share, by_half_hour = shares.get(zone, (0.0, {}))
        open_now = by_half_hour.get(_half_hour(zone, at), 0.0)
        return zone_share > 0 and open_now / zone_share >= BUSY_HALF_HOUR
    open_now = sum(h.get(_half_hour(z, at), 0.0) for z, (_, h) in shares.items())
    return open_now >= BUSY_HALF_HOUR
