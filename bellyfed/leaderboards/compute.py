"""Rebuild the precomputed leaderboards from the rankings; callers own the transaction.

A board is one (dish type, city): every dish of that type at an active restaurant in the city
that at least one diner has in a top-5. Taste-status marks carry no position and do not count.
Only entries whose numbers change are written, so ``computed_at`` says when an entry last moved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from sqlalchemy import text

from bellyfed.extensions import db
from bellyfed.leaderboards.scoring import Tally, rank_tallies
from bellyfed.search.versions import mark_changed

Board = tuple[int, int]  # (dish_type_id, city_id)

# One row per dish on every board. Points are scoring.points_for(position): 6 - position. Grouping
# the rankings before joining keeps the joins to one row per dish instead of one per ranking.
ALL_TALLIES_SQL = """
SELECT k.dish_type_id, r.city_id, k.dish_id, k.rankers, k.points, k.first_places
FROM (
    SELECT dish_type_id, dish_id, count(*) AS rankers, sum(6 - position) AS points,
           count(*) FILTER (WHERE position = 1) AS first_places
    FROM rankings
    WHERE position IS NOT NULL
    GROUP BY dish_type_id, dish_id
) k
JOIN dishes d ON d.id = k.dish_id
JOIN restaurants r ON r.id = d.restaurant_id AND r.is_active
"""
# One board's rows (as Tally): the city's restaurants first, then their dishes of the type, then
# those dishes' rankings, so the work grows with the board, not with the dish type in every city.
# Each step can be an index-only scan: restaurants (city_id, id) WHERE is_active, dishes
# (dish_type_id, restaurant_id) INCLUDE (id), rankings (dish_type_id, dish_id, position) WHERE
# position IS NOT NULL (bench/leaderboards.py measures it).
BOARD_TALLY_SQL = """
SELECT d.id, count(*), sum(6 - k.position), count(*) FILTER (WHERE k.position = 1)
FROM restaurants r
JOIN dishes d ON d.restaurant_id = r.id AND d.dish_type_id = :type
JOIN rankings k ON k.dish_type_id = :type AND k.dish_id = d.id AND k.position IS NOT NULL
WHERE r.city_id = :city AND r.is_active
GROUP BY d.id
"""

BOARDS_OF_DISHES_SQL = """
SELECT d.dish_type_id, r.city_id FROM dishes d JOIN restaurants r ON r.id = d.restaurant_id
WHERE d.id = ANY(CAST(:ids AS bigint[])) AND d.dish_type_id IS NOT NULL
UNION
SELECT dish_type_id, city_id FROM leaderboard_entries WHERE dish_id = ANY(CAST(:ids AS bigint[]))
"""

BOARD_LOCK_SQL = (
    "SELECT pg_advisory_xact_lock(hashtextextended('leaderboard:' || :type || ':' || :city, 0))"
)

COLUMNS = ("dish_type_id", "city_id", "dish_id", "rank", "score", "rankers", "first_places",
           "points")  # fmt: skip

# One board's new rows arrive as arrays: a handful of rows, no temporary table on a request path.
BOARD_FRESH = """
SELECT * FROM unnest(
    CAST(:dish_type_id AS bigint[]), CAST(:city_id AS bigint[]), CAST(:dish_id AS bigint[]),
    CAST(:rank AS int[]), CAST(:score AS float8[]), CAST(:rankers AS int[]),
    CAST(:first_places AS int[]), CAST(:points AS int[])
) AS f(dish_type_id, city_id, dish_id, rank, score, rankers, first_places, points)
"""
# Every board's rows arrive by COPY into a temporary table, much faster to send than arrays.
FRESH_TABLE_SQL = """
CREATE TEMPORARY TABLE fresh_leaderboard (dish_type_id bigint, city_id bigint, dish_id bigint,
    rank int, score float8, rankers int, first_places int, points int) ON COMMIT DROP
"""
COPY_FRESH_SQL = "COPY fresh_leaderboard FROM STDIN"

# Writes only the difference: rows whose numbers changed are updated in place, so a recompute
# that finds little new touches little, and only new entries pay the foreign-key checks (which
# dominate a full insert). All three parts see the table as it was before the statement.
APPLY_SQL = """
WITH fresh AS ({fresh}), gone AS (
    DELETE FROM leaderboard_entries e WHERE {gone}
), changed AS (
    UPDATE leaderboard_entries e
    SET rank = f.rank, score = f.score, rankers = f.rankers, first_places = f.first_places,
        points = f.points, computed_at = now()
    FROM fresh f
    WHERE f.dish_type_id = e.dish_type_id AND f.city_id = e.city_id AND f.dish_id = e.dish_id
      AND (e.rank, e.score, e.rankers, e.first_places, e.points)
          IS DISTINCT FROM (f.rank, f.score, f.rankers, f.first_places, f.points)
)
INSERT INTO leaderboard_entries
    (dish_type_id, city_id, dish_id, rank, score, rankers, first_places, points)
SELECT f.dish_type_id, f.city_id, f.dish_id, f.rank, f.score, f.rankers, f.first_places, f.points
FROM fresh f
WHERE NOT EXISTS (SELECT 1 FROM leaderboard_entries e WHERE e.dish_type_id = f.dish_type_id
                  AND e.city_id = f.city_id AND e.dish_id = f.dish_id)
"""
# On one board a dish id is enough, and NOT IN hashes the few fresh ids whatever the estimates.
APPLY_BOARD_SQL = APPLY_SQL.format(
    fresh=BOARD_FRESH,
    gone="e.dish_type_id = :type AND e.city_id = :city"
    " AND e.dish_id NOT IN (SELECT f.dish_id FROM fresh f)",
)
APPLY_ALL_SQL = APPLY_SQL.format(
    fresh="SELECT * FROM fresh_leaderboard",
    gone="NOT EXISTS (SELECT 1 FROM fresh f WHERE f.dish_type_id = e.dish_type_id"
    " AND f.city_id = e.city_id AND f.dish_id = e.dish_id)",
)


def recompute_board(dish_type_id: int, city_id: int) -> int:
    """Bring one board's entries up to date with its rankings; returns the entry count."""
    # Writers of one board queue up, so two concurrent recomputes never insert the same keys;
    # a full recompute (SHARE ROW EXCLUSIVE) holds every board writer back until it commits.
    db.session.execute(text("LOCK TABLE leaderboard_entries IN ROW EXCLUSIVE MODE"))
    params = {"type": dish_type_id, "city": city_id}
    db.session.execute(text(BOARD_LOCK_SQL), params)
    tallies = [Tally(*row) for row in db.session.execute(text(BOARD_TALLY_SQL), params)]
    rows = list(_scored_rows({(dish_type_id, city_id): tallies}))
    columns = {name: [row[i] for row in rows] for i, name in enumerate(COLUMNS)}
    db.session.execute(text(APPLY_BOARD_SQL), {**params, **columns})
    mark_changed()  # boards are served from the API cache: stale once this commits
    return len(rows)


def recompute_boards(boards: Iterable[Board]) -> int:
    """Recompute several boards (in a fixed order, so concurrent callers cannot deadlock)."""
    return sum(recompute_board(type_id, city_id) for type_id, city_id in sorted(set(boards)))


def recompute_all() -> int:
    """Rebuild every board from one aggregate query and one COPY; returns the entry count."""
    # A bulk job, not a request: no statement limit, and room to aggregate in memory.
    db.session.execute(text("SET LOCAL statement_timeout = 0"))
    db.session.execute(text("SET LOCAL work_mem = '64MB'"))
    db.session.execute(text("LOCK TABLE leaderboard_entries IN SHARE ROW EXCLUSIVE MODE"))
    boards: dict[Board, list[Tally]] = defaultdict(list)
    for type_id, city_id, *tally in db.session.execute(text(ALL_TALLIES_SQL)).all():
        boards[type_id, city_id].append(Tally(*tally))
    db.session.execute(text(FRESH_TABLE_SQL))
    count = 0
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cur, cur.copy(COPY_FRESH_SQL) as copy:
        for row in _scored_rows(boards):
            copy.write_row(row)
            count += 1
    db.session.execute(text("ANALYZE fresh_leaderboard"))  # temporary tables get no statistics
    db.session.execute(text(APPLY_ALL_SQL))
    db.session.execute(text("DROP TABLE fresh_leaderboard"))
    mark_changed()
    return count


def boards_for_dishes(dish_ids: Iterable[int]) -> set[Board]:
    """The boards these dishes belong to now, or still appear on (before a recompute)."""
    ids = sorted(set(dish_ids))
    if not ids:
        return set()
    rows = db.session.execute(text(BOARDS_OF_DISHES_SQL), {"ids": ids})
    return {(type_id, city_id) for type_id, city_id in rows}


def _scored_rows(boards: dict[Board, list[Tally]]) -> Iterator[tuple[int | float, ...]]:
    """Each board scored and ranked, as rows in ``COLUMNS`` order."""
    for board in sorted(boards):
        for scored in rank_tallies(boards[board]):
            tally = scored.tally
            yield (*board, tally.dish_id, scored.rank, scored.score, tally.rankers,
                   tally.first_places, tally.points)  # fmt: skip
