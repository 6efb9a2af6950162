"""Load demo data with COPY inside the caller's transaction: fast, all-or-nothing, repeatable."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from bellyfed.accounts.passwords import hash_password
from bellyfed.demo.people import generate_social, generate_users
from bellyfed.demo.places import generate_restaurants
from bellyfed.demo.tables import ALL_TABLES, IDENTITY_TABLES, TABLE_COLUMNS
from bellyfed.demo.world import DemoSize, DemoWorld, Rows
from bellyfed.leaderboards.compute import recompute_all
from bellyfed.restaurants.stats import refresh_restaurant_stats
from bellyfed.search.versions import mark_changed

DEMO_PASSWORD = "bellyfed-demo-password"  # noqa: S105 - published in the README on purpose
BATCH = 2_000
SEARCH_INDEX = "ix_restaurant_search_documents_city_id_name_term_ids_open_slots"

Progress = Callable[[int], None]


@dataclass
class LoadReport:
    """What a load did: ``skipped`` when demo data was already there."""

    skipped: bool
    counts: dict[str, int]


def demo_password_hash(seed: int) -> str:
    """One argon2id hash for every demo account, with a salt derived from the seed.

    Hashing per user would take hours at 200k users; a seed-derived salt keeps reruns identical.
    """
    salt = hashlib.sha256(f"bellyfed-demo-{seed}".encode()).digest()[:16]
    return hash_password(DEMO_PASSWORD, salt=salt)


def load_demo(conn: psycopg.Connection, size: DemoSize, *, reset: bool = False,
              progress: Progress | None = None) -> LoadReport:  # fmt: skip
    """Fill the database with the demo data set unless restaurants already exist.

    Runs in ``conn``'s current transaction; the caller commits. ``progress`` receives units of
    work done (one per restaurant, one per user, twice over for users).
    """
    advance = progress or (lambda n: None)
    with conn.cursor() as cur:
        # A bulk load legitimately runs longer than the app's per-statement limit.
        cur.execute("SET LOCAL statement_timeout = 0")
        # Readers carry on; writers (and a second loader) wait until we commit.
        cur.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(
            sql.SQL(", ").join(map(sql.Identifier, ALL_TABLES))))  # fmt: skip
        if reset:
            cur.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY").format(
                sql.SQL(", ").join(map(sql.Identifier, ALL_TABLES))))  # fmt: skip
        existing = cur.execute("SELECT count(*) FROM restaurants").fetchone()[0]
        if existing:
            return LoadReport(skipped=True, counts={"restaurants": existing})
        bases = {t: _next_free_id(cur, t) for t in IDENTITY_TABLES}
        # dish_prices and search_terms ids come from their sequences (via triggers); rolled-back
        # inserts advance them, so start each right after the rows that exist: reruns identical.
        for table in ("dish_prices", "search_terms"):
            cur.execute(sql.SQL("SELECT setval(pg_get_serial_sequence({t}, 'id'), "
                                "coalesce(max(id), 0) + 1, false) FROM {i}").format(
                t=sql.Literal(table), i=sql.Identifier(table)))  # fmt: skip

    world = DemoWorld(size, bases)
    counts: dict[str, int] = {}
    _copy(conn, world.reference_rows(), counts)
    for start in range(0, size.restaurants, BATCH):
        n = min(BATCH, size.restaurants - start)
        _copy(conn, generate_restaurants(world, n), counts)
        advance(n)
    _apply_price_changes(conn, world)
    password_hash = demo_password_hash(size.seed)
    for start in range(0, size.user_count, BATCH):
        n = min(BATCH, size.user_count - start)
        _copy(conn, generate_users(world, start, n, password_hash), counts)
        advance(n)
    for start in range(0, len(world.users), BATCH):
        chunk = world.users[start : start + BATCH]
        _copy(conn, generate_social(world, chunk), counts)
        advance(len(chunk))
    with conn.cursor() as cur:
        for table in IDENTITY_TABLES:
            cur.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({t}, 'id'), max(id)) "
                    "FROM {i} HAVING max(id) IS NOT NULL"
                )
                .format(t=sql.Literal(table), i=sql.Identifier(table))
            )  # fmt: skip
    refresh_restaurant_stats()
    recompute_all()
    with conn.cursor() as cur:
        # The search documents' new GIN entries wait in the index's pending list (scanned by
        # every search, and avoided by the planner) until merged: merge them now.
        cur.execute("SELECT gin_clean_pending_list(%s::regclass)", (SEARCH_INDEX,))
        cur.execute("ANALYZE")
    mark_changed()  # COPY bypasses the ORM: cached searches go stale when the caller commits
    counts["dish_prices"] = counts.get("dishes", 0) + len(world.price_changes)
    return LoadReport(skipped=False, counts=counts)


def _next_free_id(cur: psycopg.Cursor, table: str) -> int:
    query = sql.SQL("SELECT COALESCE(max(id), 0) + 1 FROM {}").format(sql.Identifier(table))
    return cur.execute(query).fetchone()[0]


def _copy(conn: psycopg.Connection, rows: Rows, counts: dict[str, int]) -> None:
    """COPY each table's rows in dependency order (TABLE_COLUMNS lists parents first)."""
    with conn.cursor() as cur:
        for table, columns in TABLE_COLUMNS.items():
            table_rows = rows.get(table)
            if not table_rows:
                continue
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            with cur.copy(statement) as copy:
                for row in table_rows:
                    copy.write_row(row)
            counts[table] = counts.get(table, 0) + len(table_rows)


def _apply_price_changes(conn: psycopg.Connection, world: DemoWorld) -> None:
    """Raise some prices, backdated, so the price-history trigger records a real history."""
    if not world.price_changes:
        return
    with conn.cursor() as cur:
        cur.execute("CREATE TEMPORARY TABLE demo_price_changes (dish_id bigint, price_minor int, "
                    "changed_at timestamptz) ON COMMIT DROP")  # fmt: skip
        with cur.copy("COPY demo_price_changes FROM STDIN") as copy:
            for row in world.price_changes:
                copy.write_row(row)
        cur.execute(
            "UPDATE dishes d SET price_minor = c.price_minor, updated_at = c.changed_at "
            "FROM demo_price_changes c WHERE d.id = c.dish_id"
        )
        cur.execute("DROP TABLE demo_price_changes")
