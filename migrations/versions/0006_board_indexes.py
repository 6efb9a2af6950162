"""Indexes for one board's recompute, and the dish-name trigram index search no longer reads.

A board's tally (bellyfed/leaderboards/compute.py) starts from a city's active restaurants, then
their dishes of the type: ``ix_restaurants_city_id_active`` and the dishes' (type, restaurant)
index carrying the dish id make both steps index-only. Search matches dish names through the
dictionary of distinct names (0005), so the GIN trigram index over every dish name only slowed
dish writes and the demo load.

Revision ID: 0006_board_indexes
Revises: 0005_search_documents
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_board_indexes"
down_revision = "0005_search_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL statement_timeout = 0")  # index builds at scale outlast the app's limit
    # Built under a new name first (writes wait, reads go on), so the exclusive locks of the drops
    # and the rename are taken only at the end, for an instant before the commit.
    op.create_index("ix_dishes_type_restaurant_with_id", "dishes",
                    ["dish_type_id", "restaurant_id"], postgresql_include=["id"])  # fmt: skip
    op.create_index("ix_restaurants_city_id_active", "restaurants", ["city_id", "id"],
                    postgresql_where=sa.text("is_active"))  # fmt: skip
    op.drop_index("ix_dishes_dish_type_id_restaurant_id", table_name="dishes")
    op.execute("ALTER INDEX ix_dishes_type_restaurant_with_id "
               "RENAME TO ix_dishes_dish_type_id_restaurant_id")  # fmt: skip
    op.drop_index("ix_dishes_name_trgm", table_name="dishes")


def downgrade() -> None:
    op.create_index("ix_dishes_name_trgm", "dishes", ["name"], postgresql_using="gin",
                    postgresql_ops={"name": "gin_trgm_ops"})  # fmt: skip
    op.drop_index("ix_restaurants_city_id_active", table_name="restaurants")
    op.drop_index("ix_dishes_dish_type_id_restaurant_id", table_name="dishes")
    op.create_index("ix_dishes_dish_type_id_restaurant_id", "dishes",
                    ["dish_type_id", "restaurant_id"])  # fmt: skip
