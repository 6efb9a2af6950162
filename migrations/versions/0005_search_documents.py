"""Search documents: per restaurant, its city, its name and the ids of its cuisine, dish type and
dish names in a dictionary of distinct names, kept by triggers.

A text search matches the query against the short dictionary entries (not one long text per
restaurant: trigram filtering is weak on long texts and every recheck costs ~30 µs there), then
reads the matching restaurants from one GIN index on (city_id, name, term_ids).

Revision ID: 0005_search_documents
Revises: 0004_view_history
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_search_documents"
down_revision = "0004_view_history"
branch_labels = None
depends_on = None

# Concurrent refreshes of one restaurant queue on its document's row lock, and each later
# statement of a volatile SQL function takes a fresh snapshot, so the last refresh sees every
# committed change. Names are added to the dictionary only when new (ON CONFLICT covers a race),
# so refreshes don't spend identity values. Unused names stay: they match no document.
FUNCTIONS_SQL = """
CREATE FUNCTION search_terms_of(ids bigint[]) RETURNS TABLE (restaurant_id bigint, term text)
LANGUAGE sql STABLE AS $$
    SELECT rc.restaurant_id, c.name FROM restaurant_cuisines rc
    JOIN cuisines c ON c.id = rc.cuisine_id WHERE rc.restaurant_id = ANY(ids)
    UNION SELECT d.restaurant_id, t.name FROM dishes d
    JOIN dish_types t ON t.id = d.dish_type_id WHERE d.restaurant_id = ANY(ids)
    UNION SELECT d.restaurant_id, d.name FROM dishes d WHERE d.restaurant_id = ANY(ids)
$$;

CREATE FUNCTION refresh_search_documents(ids bigint[]) RETURNS void LANGUAGE sql AS $$
    SELECT 1 FROM restaurant_search_documents WHERE restaurant_id = ANY(ids)
    ORDER BY restaurant_id FOR UPDATE;

    INSERT INTO search_terms (term)
    SELECT DISTINCT n.term FROM search_terms_of(ids) n
    WHERE NOT EXISTS (SELECT 1 FROM search_terms s WHERE s.term = n.term) ORDER BY n.term
    ON CONFLICT (term) DO NOTHING;

    INSERT INTO restaurant_search_documents AS doc (restaurant_id, city_id, name, term_ids)
    SELECT r.id, r.city_id, r.name, coalesce(t.term_ids, '{}')
    FROM restaurants r LEFT JOIN (
        SELECT n.restaurant_id, array_agg(s.id ORDER BY s.id) AS term_ids
        FROM search_terms_of(ids) n JOIN search_terms s ON s.term = n.term
        GROUP BY n.restaurant_id
    ) t ON t.restaurant_id = r.id
    WHERE r.id = ANY(ids)
    ON CONFLICT (restaurant_id) DO UPDATE
        SET city_id = excluded.city_id, name = excluded.name, term_ids = excluded.term_ids
        WHERE (doc.city_id, doc.name, doc.term_ids)
              IS DISTINCT FROM (excluded.city_id, excluded.name, excluded.term_ids);
$$;

CREATE FUNCTION search_documents_of_new_restaurants() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_search_documents(ARRAY(SELECT id FROM new_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION search_documents_of_changed_restaurant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_search_documents(ARRAY[NEW.id]);
    RETURN NULL;
END $$;

-- Rows of restaurant_cuisines or dishes inserted, deleted or updated: their restaurants.
CREATE FUNCTION search_documents_of_restaurant_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM refresh_search_documents(ARRAY(SELECT restaurant_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM refresh_search_documents(ARRAY(SELECT restaurant_id FROM old_rows));
    ELSE
        PERFORM refresh_search_documents(ARRAY(
            SELECT restaurant_id FROM old_rows UNION SELECT restaurant_id FROM new_rows));
    END IF;
    RETURN NULL;
END $$;

-- Only dishes renamed, retyped or moved: price and availability changes touch no document.
CREATE FUNCTION search_documents_of_updated_dishes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_search_documents(ARRAY(
        SELECT unnest(ARRAY[o.restaurant_id, n.restaurant_id])
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE (o.name, o.dish_type_id, o.restaurant_id)
              IS DISTINCT FROM (n.name, n.dish_type_id, n.restaurant_id)));
    RETURN NULL;
END $$;

-- A cuisine or dish type renamed: every restaurant that shows it.
CREATE FUNCTION search_documents_of_renamed_terms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'cuisines' THEN
        PERFORM refresh_search_documents(ARRAY(
            SELECT rc.restaurant_id FROM old_rows o JOIN new_rows n ON n.id = o.id
            JOIN restaurant_cuisines rc ON rc.cuisine_id = n.id WHERE o.name <> n.name));
    ELSE
        PERFORM refresh_search_documents(ARRAY(
            SELECT d.restaurant_id FROM old_rows o JOIN new_rows n ON n.id = o.id
            JOIN dishes d ON d.dish_type_id = n.id WHERE o.name <> n.name));
    END IF;
    RETURN NULL;
END $$;
"""

# Statement-level with transition tables (once per statement, COPY included), except a restaurant
# renamed or moved: a row trigger on just those columns, so the bulk UPDATEs of the search sorts'
# aggregates (ranking points, trending) neither fire it nor capture transition tables.
TRIGGERS_SQL = """
CREATE TRIGGER restaurants_search_documents_insert AFTER INSERT ON restaurants
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_of_new_restaurants();
CREATE TRIGGER restaurants_search_documents_update AFTER UPDATE OF name, city_id ON restaurants
    FOR EACH ROW WHEN ((OLD.name, OLD.city_id) IS DISTINCT FROM (NEW.name, NEW.city_id))
    EXECUTE FUNCTION search_documents_of_changed_restaurant();

CREATE TRIGGER restaurant_cuisines_search_documents_insert AFTER INSERT ON restaurant_cuisines
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_of_restaurant_rows();
CREATE TRIGGER restaurant_cuisines_search_documents_delete AFTER DELETE ON restaurant_cuisines
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_of_restaurant_rows();
CREATE TRIGGER restaurant_cuisines_search_documents_update AFTER UPDATE ON restaurant_cuisines
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_of_restaurant_rows();

CREATE TRIGGER dishes_search_documents_insert AFTER INSERT ON dishes
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_of_restaurant_rows();
CREATE TRIGGER dishes_search_documents_delete AFTER DELETE ON dishes
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_of_restaurant_rows();
CREATE TRIGGER dishes_search_documents_update AFTER UPDATE ON dishes
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_of_updated_dishes();

CREATE TRIGGER cuisines_search_documents_update AFTER UPDATE ON cuisines
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_of_renamed_terms();
CREATE TRIGGER dish_types_search_documents_update AFTER UPDATE ON dish_types
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_of_renamed_terms();
"""

TRIGGERS = {
    "restaurants": ("insert", "update"),
    "restaurant_cuisines": ("insert", "delete", "update"),
    "dishes": ("insert", "delete", "update"),
    "cuisines": ("update",),
    "dish_types": ("update",),
}
FUNCTIONS = (
    "search_documents_of_renamed_terms()",
    "search_documents_of_updated_dishes()",
    "search_documents_of_restaurant_rows()",
    "search_documents_of_changed_restaurant()",
    "search_documents_of_new_restaurants()",
    "refresh_search_documents(bigint[])",
    "search_terms_of(bigint[])",
)


def upgrade():
    # The backfill is one statement over every restaurant (~10 s at 100k): no statement limit.
    op.execute("SET LOCAL statement_timeout = 0")
    # Lets city_id share the trigram GIN index; trusted since PostgreSQL 13, like pg_trgm.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.create_table(
        "search_terms",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("term", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_terms")),
        sa.UniqueConstraint("term", name=op.f("uq_search_terms_term")),
    )
    op.create_table(
        "restaurant_search_documents",
        sa.Column("restaurant_id", sa.BigInteger(), nullable=False),
        sa.Column("city_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("term_ids", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_restaurant_search_documents_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("restaurant_id", name=op.f("pk_restaurant_search_documents")),
    )
    op.execute(FUNCTIONS_SQL)
    # Writers wait until the triggers exist (~10 s at 100k restaurants), so no change slips in
    # between the backfill's snapshot and the triggers; readers carry on.
    op.execute(f"LOCK TABLE {', '.join(TRIGGERS)} IN SHARE MODE")
    # Backfill before the indexes exist: one bulk build beats 100k index insertions.
    op.execute("SELECT refresh_search_documents(ARRAY(SELECT id FROM restaurants))")
    op.create_index(
        "ix_search_terms_term_trgm",
        "search_terms",
        ["term"],
        postgresql_using="gin",
        postgresql_ops={"term": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_restaurant_search_documents_city_id_name_term_ids",
        "restaurant_search_documents",
        ["city_id", "name", "term_ids"],
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.execute(TRIGGERS_SQL)
    op.execute("ANALYZE search_terms, restaurant_search_documents")


def downgrade():
    for table, events in TRIGGERS.items():
        for event in events:
            op.execute(f"DROP TRIGGER {table}_search_documents_{event} ON {table}")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
    op.drop_table("restaurant_search_documents")
    op.drop_table("search_terms")
    op.execute("DROP EXTENSION IF EXISTS btree_gin")
