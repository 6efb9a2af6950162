"""Per-restaurant aggregates behind the search sorts ("best ranked", "popular").

Refreshed in the same transaction as the change that moves them (a ranking, review or vote), and
for every restaurant after bulk loads. ``popularity`` counts engagement here; the analytics of
issue 4 add views to it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text

from bellyfed.extensions import db
from bellyfed.search.versions import mark_changed

REFRESH_SQL = """
WITH target AS (
    SELECT id FROM restaurants WHERE CAST(:every AS boolean) OR id = ANY(CAST(:ids AS bigint[]))
), ranked AS (
    SELECT d.restaurant_id, sum(6 - k.position) AS points, count(DISTINCT k.user_id) AS rankers
    FROM rankings k JOIN dishes d ON d.id = k.dish_id
    WHERE k.position IS NOT NULL AND d.restaurant_id IN (SELECT id FROM target)
    GROUP BY d.restaurant_id
), reviewed AS (
    SELECT restaurant_id, count(*) AS reviews, sum(rating) AS rating_sum
    FROM reviews WHERE restaurant_id IN (SELECT id FROM target)
    GROUP BY restaurant_id
), liked AS (
    SELECT d.restaurant_id, count(*) FILTER (WHERE v.value = 1) AS likes
    FROM dish_votes v JOIN dishes d ON d.id = v.dish_id
    WHERE d.restaurant_id IN (SELECT id FROM target)
    GROUP BY d.restaurant_id
)
UPDATE restaurants r SET
    ranking_points = coalesce(ranked.points, 0),
    rankers = coalesce(ranked.rankers, 0),
    review_count = coalesce(reviewed.reviews, 0),
    rating_sum = coalesce(reviewed.rating_sum, 0),
    popularity = coalesce(ranked.rankers, 0) + coalesce(reviewed.reviews, 0)
        + coalesce(liked.likes, 0) + r.view_count / 10.0
FROM target
LEFT JOIN ranked ON ranked.restaurant_id = target.id
LEFT JOIN reviewed ON reviewed.restaurant_id = target.id
LEFT JOIN liked ON liked.restaurant_id = target.id
WHERE r.id = target.id
"""


def refresh_restaurant_stats(restaurant_ids: Iterable[int] | None = None) -> None:
    """Recompute the aggregates of the given restaurants, or of all when ``None``."""
    ids = None if restaurant_ids is None else sorted(set(restaurant_ids))
    if ids == []:
        return
    db.session.execute(text(REFRESH_SQL), {"every": ids is None, "ids": ids or []})
    mark_changed()  # the sorts read these: cached searches go stale when this commits
