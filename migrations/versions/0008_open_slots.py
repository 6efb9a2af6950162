"""Search documents know the half hours of the week each restaurant opens in, so a text search
"open now" that few restaurants satisfy is one GIN index search instead of a walk of its city.

``open_slots`` holds, per document, ``tz * 336 + slot`` for every local half hour of the week
(0-335, Monday 00:00 first) that the restaurant's ``open_week`` touches; ``tz`` is its time zone's
id in ``search_timezones``. A search asks for the current half hour of every time zone at once, so
a restaurant is a candidate exactly when the half hour it is now, where it is, is one it opens in:
a superset of "open now", which the exact check (special closures included) then narrows.

Kept by triggers: documents get their slots when inserted, and again when their restaurant's
opening week or time zone changes (``open_week`` is itself kept from operating_hours, 0007).

Revision ID: 0008_open_slots
Revises: 0007_open_week
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008_open_slots"
down_revision = "0007_open_week"
branch_labels = None
depends_on = None

OLD_INDEX = "ix_restaurant_search_documents_city_id_name_term_ids"
INDEX = "ix_restaurant_search_documents_city_id_name_term_ids_open_slots"

FUNCTIONS_SQL = """
CREATE FUNCTION open_slots_of(rid bigint) RETURNS integer[] LANGUAGE sql VOLATILE AS $$
    INSERT INTO search_timezones (name)
    SELECT r.timezone FROM restaurants r WHERE r.id = rid
      AND NOT EXISTS (SELECT 1 FROM search_timezones t WHERE t.name = r.timezone)
    ON CONFLICT (name) DO NOTHING;
    SELECT coalesce(array_agg(DISTINCT t.id * 336 + s), '{}')
    FROM restaurants r JOIN search_timezones t ON t.name = r.timezone
    CROSS JOIN LATERAL unnest(r.open_week) AS part
    CROSS JOIN LATERAL generate_series(lower(part) / 30, (upper(part) - 1) / 30) AS s
    WHERE r.id = rid;
$$;

CREATE FUNCTION open_slots_of_new_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.open_slots := open_slots_of(NEW.restaurant_id);
    RETURN NEW;
END $$;

CREATE FUNCTION open_slots_of_changed_restaurant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE restaurant_search_documents SET open_slots = open_slots_of(NEW.id)
    WHERE restaurant_id = NEW.id;
    RETURN NULL;
END $$;
"""
TRIGGERS_SQL = """
CREATE TRIGGER restaurant_search_documents_open_slots BEFORE INSERT
    ON restaurant_search_documents
    FOR EACH ROW EXECUTE FUNCTION open_slots_of_new_document();
CREATE TRIGGER restaurants_open_slots AFTER UPDATE OF open_week, timezone ON restaurants
    FOR EACH ROW WHEN ((OLD.open_week, OLD.timezone) IS DISTINCT FROM (NEW.open_week, NEW.timezone))
    EXECUTE FUNCTION open_slots_of_changed_restaurant();
"""
DROP_SQL = """
DROP TRIGGER restaurants_open_slots ON restaurants;
DROP TRIGGER restaurant_search_documents_open_slots ON restaurant_search_documents;
DROP FUNCTION open_slots_of_changed_restaurant();
DROP FUNCTION open_slots_of_new_document();
DROP FUNCTION open_slots_of(bigint);
"""


def upgrade() -> None:
    # The backfill and the index build cover every restaurant (~20 s at 100k): no statement limit.
    op.execute("SET LOCAL statement_timeout = 0")
    op.create_table(
        "search_timezones",
        sa.Column("id", sa.SmallInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_timezones")),
        sa.UniqueConstraint("name", name=op.f("uq_search_timezones_name")),
    )
    op.add_column(
        "restaurant_search_documents",
        sa.Column("open_slots", postgresql.ARRAY(sa.Integer()), server_default="{}",
                  nullable=False),
    )  # fmt: skip
    op.execute(FUNCTIONS_SQL)
    # Writers of opening hours wait until the triggers exist; readers carry on.
    op.execute("LOCK TABLE restaurants, operating_hours, restaurant_search_documents IN SHARE MODE")
    op.execute("UPDATE restaurant_search_documents SET open_slots = open_slots_of(restaurant_id)")
    op.execute(TRIGGERS_SQL)
    op.drop_index(OLD_INDEX, table_name="restaurant_search_documents")
    op.create_index(
        INDEX,
        "restaurant_search_documents",
        ["city_id", "name", "term_ids", "open_slots"],
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.execute("ANALYZE search_timezones, restaurant_search_documents")


def downgrade() -> None:
    op.execute("SET LOCAL statement_timeout = 0")
    op.execute(DROP_SQL)
    op.drop_index(INDEX, table_name="restaurant_search_documents")
    op.create_index(
        OLD_INDEX,
        "restaurant_search_documents",
        ["city_id", "name", "term_ids"],
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.drop_column("restaurant_search_documents", "open_slots")
    op.drop_table("search_timezones")
