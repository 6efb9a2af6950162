"""Leaderboard recompute benchmark (issue 8): how the recomputes grow from ~100k to ~1M+ rankings.

On each data set, in one run: ``recompute_all()`` (every dish type and city: the worker's periodic
safety net) as a rebuild from empty and as the periodic run over boards already current, and the
largest board's ``recompute_board()`` (what the worker runs a few seconds after a ranking change),
with the board's tally query before issue 8 (every ranking of the dish type aggregated, then
filtered by city) and after (the city's restaurants first) timed side by side. Every measurement
runs in a transaction that is rolled back, so the data sets are left as they were. Figures are
medians; the board's over ``--rounds`` x 10 runs.

Usage (PostgreSQL only; no Redis, moto or worker needed):
    .venv/bin/python bench/leaderboards.py SMALL_DATABASE_URL LARGE_DATABASE_URL [--rounds 3]
or with BENCH_SMALL_DATABASE_URL and BENCH_LARGE_DATABASE_URL set. ``make bench`` runs it too
(bench/suite.py --small-database-url, through ``growth_report``).

The data sets measured for docs/performance.md were scratch databases, dropped afterwards:
    createdb -h 127.0.0.1 -U postgres -T bellyfed_scale lb_scale     # a copy: ~1.4M rankings
    createdb -h 127.0.0.1 -U postgres lb_small
    export DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/lb_small
    .venv/bin/flask --app wsgi db upgrade
    .venv/bin/flask --app wsgi demo load --restaurants 7000 --users 14000   # ~97k rankings
    .venv/bin/python bench/leaderboards.py \\
        $DATABASE_URL postgresql+psycopg://postgres@127.0.0.1:5432/lb_scale
    dropdb -h 127.0.0.1 -U postgres lb_small; dropdb -h 127.0.0.1 -U postgres lb_scale
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bellyfed import create_app
from bellyfed.extensions import db
from bellyfed.leaderboards import compute
from bellyfed.leaderboards.compute import Board, recompute_all, recompute_board
from bellyfed.leaderboards.updates import DEBOUNCE_SECONDS

# The board's tally as it was before issue 8 (every ranking of the dish type aggregated, then
# filtered by city), in the columns recompute_board reads now.
BEFORE_BOARD_TALLY_SQL = """
SELECT k.dish_id, k.rankers, k.points, k.first_places
FROM (
    SELECT dish_type_id, dish_id, count(*) AS rankers, sum(6 - position) AS points,
           count(*) FILTER (WHERE position = 1) AS first_places
    FROM rankings
    WHERE position IS NOT NULL AND dish_type_id = :type
    GROUP BY dish_type_id, dish_id
) k
JOIN dishes d ON d.id = k.dish_id AND d.dish_type_id = :type
JOIN restaurants r ON r.id = d.restaurant_id AND r.is_active AND r.city_id = :city
"""
AFTER_BOARD_TALLY_SQL = compute.BOARD_TALLY_SQL
# The board with the most dishes on it (its recompute is the slowest), and its rankings.
LARGEST_BOARD_SQL = """
SELECT d.dish_type_id, r.city_id, count(*) FROM rankings k
JOIN dishes d ON d.id = k.dish_id JOIN restaurants r ON r.id = d.restaurant_id AND r.is_active
WHERE k.position IS NOT NULL GROUP BY 1, 2 ORDER BY count(DISTINCT d.id) DESC, 1, 2 LIMIT 1
"""
# The indexes that make each step of the board's tally an index-only scan: (table, definition).
COVERING_INDEXES = [
    ("dishes", "%(dish_type_id, restaurant_id) INCLUDE (id)%"),
    ("restaurants", "%(city_id, id) WHERE is_active%"),
]
INDEX_SQL = "SELECT count(*) FROM pg_indexes WHERE tablename = :table AND indexdef LIKE :shape"
ALL_VISIBLE_SQL = """
SELECT sum(relallvisible)::float / greatest(sum(relpages), 1) FROM pg_class
WHERE relname IN ('rankings', 'dishes', 'restaurants')
"""
BOARD_RUNS = 10  # per round: one board is quick, so more runs for a steady median


@dataclass
class Figures:
    """One data set's sizes and medians (seconds)."""

    name: str
    rankings: int
    boards: int
    entries: int
    rebuild_s: float
    periodic_s: float
    board: tuple[int, int, int]  # dish type id, city id, rankings on it
    board_entries: int
    tally_before_s: float
    tally_after_s: float
    board_before_s: float
    board_after_s: float
    indexes: list[str]
    all_visible: float  # share of the three tables' pages marked all-visible (index-only scans)

    def ms(self, attr: str) -> float:
        """A figure in milliseconds."""
        return getattr(self, attr) * 1000


def median_seconds(
    run: Callable[[], object], times: int, setup: Callable[[], object] | None = None
) -> float:
    """Median wall time of ``run`` (``setup`` untimed), each in a transaction rolled back after."""
    samples = []
    for _ in range(times):
        if setup is not None:
            setup()
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
        db.session.rollback()
    return statistics.median(samples)


def tally(sql: str, board: Board) -> Callable[[], object]:
    """Run one board's tally query and fetch its rows."""
    params = {"type": board[0], "city": board[1]}
    return lambda: db.session.execute(text(sql), params).all()


def recompute_with(sql: str, board: Board) -> Callable[[], int]:
    """``recompute_board`` with its tally query swapped for ``sql`` (before or after issue 8)."""

    def run() -> int:
        compute.BOARD_TALLY_SQL = sql
        try:
            return recompute_board(*board)
        finally:
            compute.BOARD_TALLY_SQL = AFTER_BOARD_TALLY_SQL

    return run


def empty_boards() -> None:
    db.session.execute(text("DELETE FROM leaderboard_entries"))


def measure(url: str, rounds: int) -> Figures:
    """Every figure for the data set at ``url``; it is left as it was."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SLOW_QUERY_MS": 0})
    with app.app_context():
        scalar = db.session.scalar
        type_id, city_id, on_board = db.session.execute(text(LARGEST_BOARD_SQL)).one()
        board, runs = (type_id, city_id), rounds * BOARD_RUNS
        entries = recompute_all()  # the boards as they are now (rolled back below)
        boards = scalar(text("SELECT count(DISTINCT (dish_type_id, city_id)) FROM leaderboard_entries"))  # fmt: skip
        board_entries = recompute_board(*board)
        db.session.rollback()
        for sql in (BEFORE_BOARD_TALLY_SQL, AFTER_BOARD_TALLY_SQL):
            tally(sql, board)()  # warm the cache for both
        figures = Figures(
            name=db.engine.url.database,
            rankings=scalar(text("SELECT count(*) FROM rankings WHERE position IS NOT NULL")),
            boards=boards, entries=entries,
            rebuild_s=median_seconds(recompute_all, rounds, setup=empty_boards),
            periodic_s=median_seconds(recompute_all, rounds),
            board=(type_id, city_id, on_board), board_entries=board_entries,
            tally_before_s=median_seconds(tally(BEFORE_BOARD_TALLY_SQL, board), runs),
            tally_after_s=median_seconds(tally(AFTER_BOARD_TALLY_SQL, board), runs),
            board_before_s=median_seconds(recompute_with(BEFORE_BOARD_TALLY_SQL, board), runs),
            board_after_s=median_seconds(recompute_with(AFTER_BOARD_TALLY_SQL, board), runs),
            indexes=[f"{table} {shape.strip('%')}" for table, shape in COVERING_INDEXES
                     if scalar(text(INDEX_SQL), {"table": table, "shape": shape})],
            all_visible=scalar(text(ALL_VISIBLE_SQL)),
        )  # fmt: skip
        db.session.rollback()
        db.engine.dispose()
    return figures


# (label, Figures attribute, format); board figures are shown in milliseconds.
ROWS = [
    ("ranked positions", "rankings", "{:,}"),
    ("boards (dish type x city)", "boards", "{:,}"),
    ("entries", "entries", "{:,}"),
    ("recompute_all, rebuild from empty (s)", "rebuild_s", "{:.2f}"),
    ("recompute_all, periodic run over current boards (s)", "periodic_s", "{:.2f}"),
    ("largest board: entries", "board_entries", "{:,}"),
]
BOARD_ROWS = [
    ("largest board: tally query before issue 8 (ms)", "tally_before_s"),
    ("largest board: tally query now (ms)", "tally_after_s"),
    ("largest board: recompute_board before issue 8 (ms)", "board_before_s"),
    ("largest board: recompute_board now (ms)", "board_after_s"),
]


def growth_report(small_url: str, large_url: str, rounds: int = 3) -> str:
    """Both data sets measured in one run, and how each figure grows from the small to the large."""
    small, large = measure(small_url, rounds), measure(large_url, rounds)

    def row(label: str, attr: str, shown: Callable[[Figures], str]) -> str:
        ratio = getattr(large, attr) / getattr(small, attr)
        return f"| {label} | {shown(small)} | {shown(large)} | {ratio:.1f}x |"

    lines = [
        f"Leaderboard recompute, medians of {rounds} runs ({rounds * BOARD_RUNS} for one board):",
        "",
        f"| | {small.name} | {large.name} | large / small |",
        "|---|---:|---:|---:|",
        *(row(label, attr, lambda f, a=attr, m=fmt: m.format(getattr(f, a)))
          for label, attr, fmt in ROWS),
        *(row(label, attr, lambda f, a=attr: f"{f.ms(a):.1f}") for label, attr in BOARD_ROWS),
        "",
    ]  # fmt: skip
    for f in (small, large):
        type_id, city_id, on_board = f.board
        lines.append(
            f"{f.name}: the largest board is dish type {type_id} in city {city_id} ({on_board:,}"
            f" rankings), recomputed {f.board_before_s / f.board_after_s:.1f}x faster than before;"
            f" covering indexes: {'; '.join(f.indexes) or 'none'};"
            f" {f.all_visible:.0%} of the pages all-visible."
        )
    lines.append(
        f"A ranking change shows on its board {DEBOUNCE_SECONDS} s (the debounce) plus the"
        f" recompute ({large.ms('board_after_s'):.0f} ms for the largest) after it commits,"
        " with a worker free."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("small", nargs="?", default=os.environ.get("BENCH_SMALL_DATABASE_URL"),
                        help="a data set of ~100k rankings")  # fmt: skip
    parser.add_argument("large", nargs="?", default=os.environ.get("BENCH_LARGE_DATABASE_URL"),
                        help="a data set of ~1M+ rankings")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not (args.small and args.large):
        parser.error("give both database URLs (or set BENCH_SMALL/LARGE_DATABASE_URL)")
    started = time.monotonic()
    print(growth_report(args.small, args.large, args.rounds))
    print(f"\nBench time: {time.monotonic() - started:.0f} s.")


if __name__ == "__main__":
    main()
