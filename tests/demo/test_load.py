"""The demo data command: realistic, deterministic, idempotent."""

from datetime import time

import pytest
from sqlalchemy import text

from bellyfed.accounts.passwords import verify_password
from bellyfed.demo.load import DEMO_PASSWORD, load_demo
from bellyfed.demo.tables import ALL_TABLES
from bellyfed.demo.world import DemoSize
from bellyfed.extensions import db

SMALL = DemoSize(restaurants=60, users=80)


def raw_connection():
    return db.session.connection().connection.driver_connection


def fingerprint() -> dict[str, str]:
    """An md5 of every demo table's full contents, ordered by key."""
    result = {}
    for table in ALL_TABLES:
        columns = db.session.execute(
            text(
                "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) "
                "FROM information_schema.columns WHERE table_name = :t "
                # When a leaderboard entry was computed is the clock's, not the seed's: two loads
                # in different transactions would differ only there.
                "AND (table_name, column_name) <> ('leaderboard_entries', 'computed_at')"
            ),
            {"t": table},
        ).scalar_one()
        digest = "count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')"
        query = f"SELECT {digest} FROM (SELECT {columns} FROM {table}) t"
        result[table] = db.session.execute(text(query)).scalar_one()
    return result


@pytest.fixture
def loaded(db_session):
    # From empty tables (rolled back with the test): rows other tests committed, such as the
    # dictionary names their dishes left in search_terms, are no part of the demo data.
    report = load_demo(raw_connection(), SMALL, reset=True)
    assert not report.skipped
    return report


def test_the_same_seed_gives_the_same_data(loaded, db_session):
    first = fingerprint()
    again = load_demo(raw_connection(), SMALL, reset=True)
    assert not again.skipped
    assert fingerprint() == first
    # No demo photos (their bytes would need S3), and nobody has two-step sign-in on yet.
    unfilled = ("photos", "user_two_factor", "user_recovery_codes")
    filled = {name: value for name, value in first.items() if name not in unfilled}
    assert all(not value.startswith("0:") for value in filled.values())


def test_a_different_seed_gives_different_data(loaded, db_session):
    first = fingerprint()
    load_demo(raw_connection(), DemoSize(restaurants=60, users=80, seed=7), reset=True)
    assert fingerprint()["restaurants"] != first["restaurants"]


def test_loading_twice_changes_nothing(loaded, db_session):
    first = fingerprint()
    second = load_demo(raw_connection(), SMALL)
    assert second.skipped
    assert fingerprint() == first


def test_counts_match_the_report_and_the_sizes(loaded, db_session):
    for table in ("restaurants", "users", "dishes", "rankings", "reviews", "operating_hours"):
        assert db_session.scalar(text(f"SELECT count(*) FROM {table}")) == loaded.counts[table]
    assert loaded.counts["restaurants"] == 60
    assert loaded.counts["users"] == 80
    assert (
        db_session.scalar(text("SELECT count(*) FROM dish_prices")) == loaded.counts["dish_prices"]
    )


def test_the_region_is_real(loaded, db_session):
    cities = dict(db_session.execute(text("SELECT slug, timezone FROM cities")).all())
    assert cities["kuala-lumpur"] == "Asia/Kuala_Lumpur"
    assert cities["petaling-jaya"] == "Asia/Kuala_Lumpur"
    assert cities["penang"] == "Asia/Kuala_Lumpur"
    assert cities["singapore"] == "Asia/Singapore"
    types = set(db_session.scalars(text("SELECT name FROM dish_types")))
    assert len(types) >= 30
    assert {
        "Nasi Lemak",
        "Char Kway Teow",
        "Curry Laksa",
        "Hainanese Chicken Rice",
        "Roti Canai",
    } <= types
    currencies = dict(db_session.execute(text(
        "SELECT c.country_code, array_agg(DISTINCT d.currency) FROM dishes d "
        "JOIN restaurants r ON r.id = d.restaurant_id JOIN cities c ON c.id = r.city_id GROUP BY 1"
    )).all())  # fmt: skip
    assert currencies == {"MY": ["MYR"], "SG": ["SGD"]}


def test_hours_include_split_shifts_and_late_nights(loaded, db_session):
    split = db_session.scalar(text(
        "SELECT count(*) FROM (SELECT 1 FROM operating_hours GROUP BY restaurant_id, weekday "
        "HAVING count(*) > 1) s"))  # fmt: skip
    overnight = db_session.scalar(
        text("SELECT count(*) FROM operating_hours WHERE closes_at <= opens_at")
    )
    assert split > 0
    assert overnight > 0
    assert db_session.scalar(text("SELECT min(opens_at) FROM operating_hours")) >= time(0)


def test_rankings_obey_the_rules_and_have_history(loaded, db_session):
    assert db_session.scalar(text("SELECT max(position) FROM rankings")) <= 5
    assert (
        db_session.scalar(text("SELECT count(*) FROM rankings WHERE taste_status IS NOT NULL")) > 0
    )
    without_history = db_session.scalar(text(
        "SELECT count(*) FROM rankings r WHERE NOT EXISTS (SELECT 1 FROM ranking_history h "
        "WHERE h.user_id = r.user_id AND h.dish_id = r.dish_id)"))  # fmt: skip
    assert without_history == 0


def test_some_prices_have_changed_over_time(loaded, db_session):
    changed = db_session.scalar(text(
        "SELECT count(*) FROM (SELECT dish_id FROM dish_prices GROUP BY 1 HAVING count(*) > 1) s"))  # fmt: skip
    assert changed > 0


def test_demo_accounts_sign_in_with_the_published_password(loaded, db_session):
    rows = dict(
        db_session.execute(
            text("SELECT username, password_hash FROM users WHERE username IN ('demo', 'operator')")
        ).all()
    )
    assert set(rows) == {"demo", "operator"}
    assert all(verify_password(h, DEMO_PASSWORD) for h in rows.values())


def test_sequences_continue_after_the_loaded_ids(loaded, db_session):
    max_id = db_session.scalar(text("SELECT max(id) FROM restaurants"))
    new_id = db_session.scalar(text(
        "INSERT INTO restaurants (slug, name, address_line, city_id, latitude, longitude, timezone, price_level) "
        "SELECT 'brand-new', 'Brand New', '1 Jalan Baru', id, 3.1, 101.6, 'Asia/Kuala_Lumpur', 1 "
        "FROM cities LIMIT 1 RETURNING id"))  # fmt: skip
    assert new_id == max_id + 1


def test_the_cli_loads_then_skips(app, db_session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load", "--restaurants", "20", "--users", "30"])
    assert first.exit_code == 0, first.output
    assert "restaurants" in first.output
    assert "20" in first.output
    second = runner.invoke(args=["demo", "load", "--restaurants", "20", "--users", "30"])
    assert second.exit_code == 0
    assert "already present (20 restaurants)" in second.output


def test_the_cli_rejects_a_bad_scale(app, db_session):
    result = app.test_cli_runner().invoke(args=["demo", "load", "--restaurants", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '--restaurants'" in result.output


def test_production_refuses_demo_data(app):
    """The demo accounts have a published password (ASVS 2.5.4): never in production."""
    before, app.config["BELLYFED_ENV"] = app.config["BELLYFED_ENV"], "production"
    try:
        result = app.test_cli_runner().invoke(args=["demo", "load", "--restaurants", "1"])
    finally:
        app.config["BELLYFED_ENV"] = before
    assert result.exit_code == 2
    assert "never production" in result.output
