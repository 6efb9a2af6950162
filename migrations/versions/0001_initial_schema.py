"""Initial schema: every PostgreSQL entity of PRODUCT.md.

Hand-tuned after autogenerate: the pg_trgm extension, the users <-> photos foreign key added once
both tables exist, and the triggers that keep dish price history.

Revision ID: 0001_initial_schema
Revises:
Create Date: 2026-11-27 10:11:24.600177

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0001_initial_schema"
down_revision = None
branch_labels = None
depends_on = None


PRICE_HISTORY_SQL = """
CREATE FUNCTION record_dish_price_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dish_prices (dish_id, price_minor, currency, valid_from)
    SELECT id, price_minor, currency, created_at FROM new_dishes;
    RETURN NULL;
END $$;

CREATE FUNCTION record_dish_price_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dish_prices (dish_id, price_minor, currency, valid_from)
    -- The statement's own updated_at when it set one (bulk loads backdate changes), else now().
    SELECT n.id, n.price_minor, n.currency,
           CASE WHEN n.updated_at IS DISTINCT FROM o.updated_at THEN n.updated_at ELSE now() END
    FROM new_dishes n JOIN old_dishes o ON o.id = n.id
    WHERE (n.price_minor, n.currency) IS DISTINCT FROM (o.price_minor, o.currency);
    RETURN NULL;
END $$;

-- Statement-level with transition tables: one INSERT per statement, so a COPY of a million
-- dishes records its prices in one pass instead of a million trigger calls.
CREATE TRIGGER dishes_price_history_insert AFTER INSERT ON dishes
    REFERENCING NEW TABLE AS new_dishes
    FOR EACH STATEMENT EXECUTE FUNCTION record_dish_price_insert();
CREATE TRIGGER dishes_price_history_update AFTER UPDATE ON dishes
    REFERENCING OLD TABLE AS old_dishes NEW TABLE AS new_dishes
    FOR EACH STATEMENT EXECUTE FUNCTION record_dish_price_update();
"""


def upgrade():
    # Trusted extension since PostgreSQL 13: the database owner may create it (RDS included).
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "cities",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("country_code", sa.Text(), nullable=False),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.CheckConstraint("country_code ~ '^[A-Z]{2}$'", name=op.f("ck_cities_country_code_iso")),
        sa.CheckConstraint("slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name=op.f("ck_cities_slug_format")),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name=op.f("ck_cities_latitude_range")),
        sa.CheckConstraint(
            "longitude BETWEEN -180 AND 180", name=op.f("ck_cities_longitude_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cities")),
        sa.UniqueConstraint("slug", name=op.f("uq_cities_slug")),
    )
    op.create_table(
        "cuisines",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name=op.f("ck_cuisines_slug_format")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cuisines")),
        sa.UniqueConstraint("name", name=op.f("uq_cuisines_name")),
        sa.UniqueConstraint("slug", name=op.f("uq_cuisines_slug")),
    )
    with op.batch_alter_table("cuisines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cuisines_name_trgm",
            ["name"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        )

    op.create_table(
        "dish_types",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.CheckConstraint(
            "slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name=op.f("ck_dish_types_slug_format")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dish_types")),
        sa.UniqueConstraint("name", name=op.f("uq_dish_types_name")),
        sa.UniqueConstraint("slug", name=op.f("uq_dish_types_slug")),
    )
    with op.batch_alter_table("dish_types", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dish_types_name_trgm",
            ["name"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        )

    op.create_table(
        "restaurants",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("address_line", sa.Text(), nullable=False),
        sa.Column("postcode", sa.Text(), nullable=True),
        sa.Column("city_id", sa.BigInteger(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("website", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("price_level", sa.SmallInteger(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "email IS NULL OR email LIKE '%%_@_%%'", name=op.f("ck_restaurants_email_shape")
        ),
        sa.CheckConstraint(
            "slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name=op.f("ck_restaurants_slug_format")
        ),
        sa.CheckConstraint(
            "website IS NULL OR website ~* '^https?://'", name=op.f("ck_restaurants_website_http")
        ),
        sa.CheckConstraint(
            "latitude BETWEEN -90 AND 90", name=op.f("ck_restaurants_latitude_range")
        ),
        sa.CheckConstraint("length(btrim(name)) > 0", name=op.f("ck_restaurants_name_not_blank")),
        sa.CheckConstraint(
            "longitude BETWEEN -180 AND 180", name=op.f("ck_restaurants_longitude_range")
        ),
        sa.CheckConstraint(
            "price_level IN (1, 2, 3, 4)", name=op.f("ck_restaurants_price_level_range")
        ),
        sa.ForeignKeyConstraint(
            ["city_id"],
            ["cities.id"],
            name=op.f("fk_restaurants_city_id_cities"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurants")),
        sa.UniqueConstraint("slug", name=op.f("uq_restaurants_slug")),
    )
    with op.batch_alter_table("restaurants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_restaurants_city_id_created_at", ["city_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_restaurants_city_id_price_level", ["city_id", "price_level"], unique=False
        )
        batch_op.create_index(
            "ix_restaurants_location",
            [sa.literal_column("point(longitude, latitude)")],
            unique=False,
            postgresql_using="gist",
        )
        batch_op.create_index(
            "ix_restaurants_name_trgm",
            ["name"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        )

    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("bio", sa.Text(), server_default="", nullable=False),
        sa.Column("avatar_photo_id", sa.BigInteger(), nullable=True),
        sa.Column("home_city_id", sa.BigInteger(), nullable=True),
        sa.Column("role", sa.Text(), server_default="diner", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "email LIKE '%%_@_%%' AND length(email) <= 254", name=op.f("ck_users_email_shape")
        ),
        sa.CheckConstraint("role IN ('diner', 'admin')", name=op.f("ck_users_role_known")),
        sa.CheckConstraint("username ~ '^[a-z0-9_]{3,30}$'", name=op.f("ck_users_username_format")),
        sa.CheckConstraint("length(bio) <= 2000", name=op.f("ck_users_bio_length")),
        sa.CheckConstraint(
            "length(display_name) BETWEEN 1 AND 60", name=op.f("ck_users_display_name_length")
        ),
        sa.ForeignKeyConstraint(
            ["home_city_id"],
            ["cities.id"],
            name=op.f("fk_users_home_city_id_cities"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(
            "uq_users_email_lower", [sa.literal_column("lower(email)")], unique=True
        )

    op.create_table(
        "menu_categories",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("restaurant_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("position >= 0", name=op.f("ck_menu_categories_position_non_negative")),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_menu_categories_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_menu_categories")),
        sa.UniqueConstraint(
            "restaurant_id", "name", name=op.f("uq_menu_categories_restaurant_id_name")
        ),
    )
    op.create_table(
        "operating_hours",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("restaurant_id", sa.BigInteger(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("opens_at", sa.Time(), nullable=False),
        sa.Column("closes_at", sa.Time(), nullable=False),
        sa.CheckConstraint(
            "date_trunc('minute', closes_at) = closes_at",
            name=op.f("ck_operating_hours_closes_whole_minute"),
        ),
        sa.CheckConstraint(
            "date_trunc('minute', opens_at) = opens_at",
            name=op.f("ck_operating_hours_opens_whole_minute"),
        ),
        sa.CheckConstraint(
            "weekday BETWEEN 0 AND 6", name=op.f("ck_operating_hours_weekday_range")
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_operating_hours_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operating_hours")),
        sa.UniqueConstraint(
            "restaurant_id",
            "weekday",
            "opens_at",
            name=op.f("uq_operating_hours_restaurant_id_weekday_opens_at"),
        ),
    )
    op.create_table(
        "restaurant_cuisines",
        sa.Column("restaurant_id", sa.BigInteger(), nullable=False),
        sa.Column("cuisine_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cuisine_id"],
            ["cuisines.id"],
            name=op.f("fk_restaurant_cuisines_cuisine_id_cuisines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_restaurant_cuisines_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("restaurant_id", "cuisine_id", name=op.f("pk_restaurant_cuisines")),
    )
    with op.batch_alter_table("restaurant_cuisines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_restaurant_cuisines_cuisine_id_restaurant_id",
            ["cuisine_id", "restaurant_id"],
            unique=False,
        )

    op.create_table(
        "special_closures",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("restaurant_id", sa.BigInteger(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_special_closures_date_order")),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_special_closures_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_special_closures")),
    )
    with op.batch_alter_table("special_closures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_special_closures_restaurant_id_ends_on", ["restaurant_id", "ends_on"], unique=False
        )

    op.create_table(
        "user_preferences",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("price_min", sa.SmallInteger(), nullable=True),
        sa.Column("price_max", sa.SmallInteger(), nullable=True),
        sa.Column(
            "dietary_needs",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "dietary_needs <@ ARRAY['halal', 'vegetarian', 'vegan', 'no-pork-no-lard', 'gluten-free', 'contains-nuts', 'contains-seafood']::text[]",
            name=op.f("ck_user_preferences_dietary_needs_known"),
        ),
        sa.CheckConstraint(
            "price_max IS NULL OR price_max IN (1, 2, 3, 4)",
            name=op.f("ck_user_preferences_price_max_range"),
        ),
        sa.CheckConstraint(
            "price_min IS NULL OR price_max IS NULL OR price_min <= price_max",
            name=op.f("ck_user_preferences_price_order"),
        ),
        sa.CheckConstraint(
            "price_min IS NULL OR price_min IN (1, 2, 3, 4)",
            name=op.f("ck_user_preferences_price_min_range"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_preferences")),
    )
    op.create_table(
        "dishes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("restaurant_id", sa.BigInteger(), nullable=False),
        sa.Column("dish_type_id", sa.BigInteger(), nullable=True),
        sa.Column("menu_category_id", sa.BigInteger(), nullable=True),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("position", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("price_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column(
            "dietary_tags",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column("spice_level", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("is_available", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_dishes_currency_iso")),
        sa.CheckConstraint(
            "dietary_tags <@ ARRAY['halal', 'vegetarian', 'vegan', 'no-pork-no-lard', 'gluten-free', 'contains-nuts', 'contains-seafood']::text[]",
            name=op.f("ck_dishes_dietary_tags_known"),
        ),
        sa.CheckConstraint("slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name=op.f("ck_dishes_slug_format")),
        sa.CheckConstraint("length(btrim(name)) > 0", name=op.f("ck_dishes_name_not_blank")),
        sa.CheckConstraint("price_minor >= 0", name=op.f("ck_dishes_price_non_negative")),
        sa.CheckConstraint("spice_level BETWEEN 0 AND 5", name=op.f("ck_dishes_spice_level_range")),
        sa.ForeignKeyConstraint(
            ["dish_type_id"],
            ["dish_types.id"],
            name=op.f("fk_dishes_dish_type_id_dish_types"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["menu_category_id"],
            ["menu_categories.id"],
            name=op.f("fk_dishes_menu_category_id_menu_categories"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_dishes_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dishes")),
        sa.UniqueConstraint("id", "dish_type_id", name=op.f("uq_dishes_id_dish_type_id")),
        sa.UniqueConstraint("restaurant_id", "slug", name=op.f("uq_dishes_restaurant_id_slug")),
    )
    with op.batch_alter_table("dishes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dishes_dietary_tags", ["dietary_tags"], unique=False, postgresql_using="gin"
        )
        batch_op.create_index(
            "ix_dishes_dish_type_id_restaurant_id", ["dish_type_id", "restaurant_id"], unique=False
        )
        batch_op.create_index("ix_dishes_menu_category_id", ["menu_category_id"], unique=False)
        batch_op.create_index(
            "ix_dishes_name_trgm",
            ["name"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        )

    op.create_table(
        "user_favourite_cuisines",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("cuisine_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cuisine_id"],
            ["cuisines.id"],
            name=op.f("fk_user_favourite_cuisines_cuisine_id_cuisines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_preferences.user_id"],
            name=op.f("fk_user_favourite_cuisines_user_id_user_preferences"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "cuisine_id", name=op.f("pk_user_favourite_cuisines")),
    )
    with op.batch_alter_table("user_favourite_cuisines", schema=None) as batch_op:
        batch_op.create_index("ix_user_favourite_cuisines_cuisine_id", ["cuisine_id"], unique=False)

    op.create_table(
        "dish_prices",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("dish_id", sa.BigInteger(), nullable=False),
        sa.Column("price_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column(
            "valid_from",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_dish_prices_currency_iso")),
        sa.CheckConstraint("price_minor >= 0", name=op.f("ck_dish_prices_price_non_negative")),
        sa.ForeignKeyConstraint(
            ["dish_id"],
            ["dishes.id"],
            name=op.f("fk_dish_prices_dish_id_dishes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dish_prices")),
    )
    with op.batch_alter_table("dish_prices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dish_prices_dish_id_valid_from", ["dish_id", "valid_from"], unique=False
        )

    op.create_table(
        "dish_votes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("dish_id", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.SmallInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("value IN (-1, 1)", name=op.f("ck_dish_votes_value_known")),
        sa.ForeignKeyConstraint(
            ["dish_id"],
            ["dishes.id"],
            name=op.f("fk_dish_votes_dish_id_dishes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_dish_votes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dish_votes")),
        sa.UniqueConstraint("user_id", "dish_id", name=op.f("uq_dish_votes_user_id_dish_id")),
    )
    with op.batch_alter_table("dish_votes", schema=None) as batch_op:
        batch_op.create_index("ix_dish_votes_dish_id_value", ["dish_id", "value"], unique=False)
        batch_op.create_index(
            "ix_dish_votes_user_id_updated_at", ["user_id", "updated_at"], unique=False
        )

    op.create_table(
        "ranking_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("dish_id", sa.BigInteger(), nullable=False),
        sa.Column("dish_type_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("old_position", sa.SmallInteger(), nullable=True),
        sa.Column("new_position", sa.SmallInteger(), nullable=True),
        sa.Column("old_taste_status", sa.Text(), nullable=True),
        sa.Column("new_taste_status", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "action IN ('ranked', 'moved', 'status_set', 'updated', 'removed', 'dropped')",
            name=op.f("ck_ranking_history_action_known"),
        ),
        sa.CheckConstraint(
            "new_position IS NULL OR new_position BETWEEN 1 AND 5",
            name=op.f("ck_ranking_history_new_position_range"),
        ),
        sa.CheckConstraint(
            "old_position IS NULL OR old_position BETWEEN 1 AND 5",
            name=op.f("ck_ranking_history_old_position_range"),
        ),
        sa.ForeignKeyConstraint(
            ["dish_id"],
            ["dishes.id"],
            name=op.f("fk_ranking_history_dish_id_dishes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dish_type_id"],
            ["dish_types.id"],
            name=op.f("fk_ranking_history_dish_type_id_dish_types"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_ranking_history_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ranking_history")),
    )
    with op.batch_alter_table("ranking_history", schema=None) as batch_op:
        batch_op.create_index("ix_ranking_history_dish_id", ["dish_id"], unique=False)
        batch_op.create_index(
            "ix_ranking_history_user_id_created_at", ["user_id", "created_at"], unique=False
        )

    op.create_table(
        "reviews",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("restaurant_id", sa.BigInteger(), nullable=False),
        sa.Column("dish_id", sa.BigInteger(), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("title", sa.Text(), server_default="", nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "length(btrim(body)) BETWEEN 1 AND 5000", name=op.f("ck_reviews_body_length")
        ),
        sa.CheckConstraint("length(title) <= 120", name=op.f("ck_reviews_title_length")),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_reviews_rating_range")),
        sa.ForeignKeyConstraint(
            ["dish_id"], ["dishes.id"], name=op.f("fk_reviews_dish_id_dishes"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_reviews_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_reviews_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index("ix_reviews_dish_id", ["dish_id"], unique=False)
        batch_op.create_index(
            "ix_reviews_restaurant_id_created_at", ["restaurant_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_reviews_user_id_created_at", ["user_id", "created_at"], unique=False
        )

    op.create_table(
        "comments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("review_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "length(btrim(body)) BETWEEN 1 AND 2000", name=op.f("ck_comments_body_length")
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["reviews.id"],
            name=op.f("fk_comments_review_id_reviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_comments_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_comments_review_id_created_at", ["review_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_comments_user_id", ["user_id"], unique=False)

    op.create_table(
        "photos",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("uploader_id", sa.BigInteger(), nullable=False),
        sa.Column("review_id", sa.BigInteger(), nullable=True),
        sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("thumbnail_key", sa.Text(), nullable=True),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("alt_text", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png', 'image/webp')",
            name=op.f("ck_photos_content_type_image"),
        ),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_photos_sha256_hex")),
        sa.CheckConstraint("byte_size > 0", name=op.f("ck_photos_byte_size_positive")),
        sa.CheckConstraint("position >= 0", name=op.f("ck_photos_position_non_negative")),
        sa.CheckConstraint("width > 0 AND height > 0", name=op.f("ck_photos_dimensions_positive")),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["reviews.id"],
            name=op.f("fk_photos_review_id_reviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploader_id"],
            ["users.id"],
            name=op.f("fk_photos_uploader_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photos")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_photos_storage_key")),
        sa.UniqueConstraint("thumbnail_key", name=op.f("uq_photos_thumbnail_key")),
    )
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.create_index(
            "ix_photos_review_id_position", ["review_id", "position"], unique=False
        )
        batch_op.create_index("ix_photos_uploader_id", ["uploader_id"], unique=False)

    op.create_foreign_key(
        op.f("fk_users_avatar_photo_id_photos"),
        "users",
        "photos",
        ["avatar_photo_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_table(
        "review_votes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("review_id", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.SmallInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("value IN (-1, 1)", name=op.f("ck_review_votes_value_known")),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["reviews.id"],
            name=op.f("fk_review_votes_review_id_reviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_review_votes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_votes")),
        sa.UniqueConstraint("user_id", "review_id", name=op.f("uq_review_votes_user_id_review_id")),
    )
    with op.batch_alter_table("review_votes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_review_votes_review_id_value", ["review_id", "value"], unique=False
        )
        batch_op.create_index(
            "ix_review_votes_user_id_updated_at", ["user_id", "updated_at"], unique=False
        )

    op.create_table(
        "rankings",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("dish_id", sa.BigInteger(), nullable=False),
        sa.Column("dish_type_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=True),
        sa.Column("taste_status", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.Column("photo_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "taste_status IN ('acceptable', 'second_chance', 'dissatisfied')",
            name=op.f("ck_rankings_taste_status_known"),
        ),
        sa.CheckConstraint(
            "(position IS NULL) <> (taste_status IS NULL)",
            name=op.f("ck_rankings_position_xor_taste_status"),
        ),
        sa.CheckConstraint("position BETWEEN 1 AND 5", name=op.f("ck_rankings_position_range")),
        sa.ForeignKeyConstraint(
            ["dish_id", "dish_type_id"],
            ["dishes.id", "dishes.dish_type_id"],
            name=op.f("fk_rankings_dish_id_dish_type_id_dishes"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["photo_id"],
            ["photos.id"],
            name=op.f("fk_rankings_photo_id_photos"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_rankings_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rankings")),
        sa.UniqueConstraint("user_id", "dish_id", name=op.f("uq_rankings_user_id_dish_id")),
        sa.UniqueConstraint(
            "user_id",
            "dish_type_id",
            "position",
            deferrable=True,
            initially="IMMEDIATE",
            name=op.f("uq_rankings_user_id_dish_type_id_position"),
        ),
    )
    with op.batch_alter_table("rankings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rankings_dish_id_dish_type_id", ["dish_id", "dish_type_id"], unique=False
        )
        batch_op.create_index(
            "ix_rankings_dish_type_id_dish_id_ranked",
            ["dish_type_id", "dish_id", "position"],
            unique=False,
            postgresql_where=sa.text("position IS NOT NULL"),
        )

    op.execute(PRICE_HISTORY_SQL)


def downgrade():
    op.execute("DROP TRIGGER IF EXISTS dishes_price_history_update ON dishes")
    op.execute("DROP TRIGGER IF EXISTS dishes_price_history_insert ON dishes")
    op.execute("DROP FUNCTION IF EXISTS record_dish_price_update()")
    op.execute("DROP FUNCTION IF EXISTS record_dish_price_insert()")
    op.drop_constraint(op.f("fk_users_avatar_photo_id_photos"), "users", type_="foreignkey")
    with op.batch_alter_table("rankings", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_rankings_dish_type_id_dish_id_ranked",
            postgresql_where=sa.text("position IS NOT NULL"),
        )
        batch_op.drop_index("ix_rankings_dish_id_dish_type_id")

    op.drop_table("rankings")
    with op.batch_alter_table("review_votes", schema=None) as batch_op:
        batch_op.drop_index("ix_review_votes_user_id_updated_at")
        batch_op.drop_index("ix_review_votes_review_id_value")

    op.drop_table("review_votes")
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.drop_index("ix_photos_uploader_id")
        batch_op.drop_index("ix_photos_review_id_position")

    op.drop_table("photos")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index("ix_comments_user_id")
        batch_op.drop_index("ix_comments_review_id_created_at")

    op.drop_table("comments")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_user_id_created_at")
        batch_op.drop_index("ix_reviews_restaurant_id_created_at")
        batch_op.drop_index("ix_reviews_dish_id")

    op.drop_table("reviews")
    with op.batch_alter_table("ranking_history", schema=None) as batch_op:
        batch_op.drop_index("ix_ranking_history_user_id_created_at")
        batch_op.drop_index("ix_ranking_history_dish_id")

    op.drop_table("ranking_history")
    with op.batch_alter_table("dish_votes", schema=None) as batch_op:
        batch_op.drop_index("ix_dish_votes_user_id_updated_at")
        batch_op.drop_index("ix_dish_votes_dish_id_value")

    op.drop_table("dish_votes")
    with op.batch_alter_table("dish_prices", schema=None) as batch_op:
        batch_op.drop_index("ix_dish_prices_dish_id_valid_from")

    op.drop_table("dish_prices")
    with op.batch_alter_table("user_favourite_cuisines", schema=None) as batch_op:
        batch_op.drop_index("ix_user_favourite_cuisines_cuisine_id")

    op.drop_table("user_favourite_cuisines")
    with op.batch_alter_table("dishes", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_dishes_name_trgm", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}
        )
        batch_op.drop_index("ix_dishes_menu_category_id")
        batch_op.drop_index("ix_dishes_dish_type_id_restaurant_id")
        batch_op.drop_index("ix_dishes_dietary_tags", postgresql_using="gin")

    op.drop_table("dishes")
    op.drop_table("user_preferences")
    with op.batch_alter_table("special_closures", schema=None) as batch_op:
        batch_op.drop_index("ix_special_closures_restaurant_id_ends_on")

    op.drop_table("special_closures")
    with op.batch_alter_table("restaurant_cuisines", schema=None) as batch_op:
        batch_op.drop_index("ix_restaurant_cuisines_cuisine_id_restaurant_id")

    op.drop_table("restaurant_cuisines")
    op.drop_table("operating_hours")
    op.drop_table("menu_categories")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("uq_users_email_lower")

    op.drop_table("users")
    with op.batch_alter_table("restaurants", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_restaurants_name_trgm",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        )
        batch_op.drop_index("ix_restaurants_location", postgresql_using="gist")
        batch_op.drop_index("ix_restaurants_city_id_price_level")
        batch_op.drop_index("ix_restaurants_city_id_created_at")

    op.drop_table("restaurants")
    with op.batch_alter_table("dish_types", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_dish_types_name_trgm",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        )

    op.drop_table("dish_types")
    with op.batch_alter_table("cuisines", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_cuisines_name_trgm", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}
        )

    op.drop_table("cuisines")
    op.drop_table("cities")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
