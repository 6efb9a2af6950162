"""Trending restaurants: views with exponential time decay, a top-N per city.

score = sum over the last hours of views_in_hour * 0.5 ** (age_in_hours / half_life). The hourly
view counts come from the flush's per-hour tallies in Redis (written once per flushed item);
the top-N per city goes to DynamoDB (``trending#<city slug>`` / ``TOP``) for readers such as the
API, and every score to PostgreSQL in one statement, where the home page sorts by it. The
popularity figures of the viewed restaurants are refreshed in the same pass.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import redis
from sqlalchemy import bindparam, select, text

from bellyfed.analytics import keys
from bellyfed.dynamo import table
from bellyfed.extensions import db
from bellyfed.restaurants.models import City, Restaurant
from bellyfed.restaurants.stats import refresh_restaurant_stats
from bellyfed.search.versions import mark_changed

WINDOW_HOURS = 48
TOP_N = 20
SCORES_SQL = """
UPDATE restaurants r SET trending_score = coalesce(s.score, 0)
FROM restaurants t
LEFT JOIN unnest(CAST(:ids AS bigint[]), CAST(:scores AS float8[])) AS s(id, score) ON s.id = t.id
WHERE r.id = t.id AND (t.trending_score > 0 OR s.score IS NOT NULL)
"""


def scores(
    redis_client: redis.Redis, half_life_hours: float, now: datetime | None = None
) -> dict[int, float]:
    """Decayed view scores of every restaurant viewed in the window."""
    now = now or datetime.now(UTC)
    totals: dict[int, float] = defaultdict(float)
    pipe = redis_client.pipeline(transaction=False)
    ages = list(range(WINDOW_HOURS))
    for age in ages:
        pipe.zrange(
            f"{keys.TOP}views:{(now - timedelta(hours=age)):%Y-%m-%dT%H}", 0, -1, withscores=True
        )
    for age, members in zip(ages, pipe.execute(), strict=True):
        weight = 0.5 ** (age / half_life_hours)
        for member, views in members:
            totals[int(member)] += views * weight
    return dict(totals)


def recompute(redis_client: redis.Redis, half_life_hours: float = 6.0) -> dict[str, int]:
    """Store the top-N per city (DynamoDB) and every score (PostgreSQL); callers commit."""
    current = scores(redis_client, half_life_hours)
    rows = db.session.execute(
        select(Restaurant.id, City.slug)
        .join(City, City.id == Restaurant.city_id)
        .where(Restaurant.id.in_(list(current)))
    ).all()
    by_city: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for restaurant_id, city in rows:
        by_city[city].append((current[restaurant_id], restaurant_id))
    everywhere = db.session.scalars(select(City.slug)).all()
    with table("analytics").batch_writer() as batch:
        for city in everywhere:  # a city without recent views gets an empty list, not a stale one
            ranked = by_city.get(city, [])
            top = sorted(ranked, reverse=True)[:TOP_N]
            listed = [{"id": rid, "score": Decimal(f"{score:.4f}")} for score, rid in top]
            computed = datetime.now(UTC).isoformat()
            batch.put_item(
                Item={
                    "pk": f"trending#{city}",
                    "sk": "TOP",
                    "computed_at": computed,
                    "restaurants": listed,
                }
            )
    db.session.execute(
        text(SCORES_SQL).bindparams(bindparam("ids"), bindparam("scores")),
        {"ids": list(current), "scores": list(current.values())},
    )
    refresh_restaurant_stats(current)
    mark_changed()  # the "trending" sort moved: cached searches go stale when this commits
    return {city: len(ranked) for city, ranked in by_city.items()}
