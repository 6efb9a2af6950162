"""Analytics figures on restaurants: view totals copied from DynamoDB, and the trending score.

Revision ID: 0003_restaurant_view_count
Revises: 0002_stats_and_leaderboards
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_restaurant_view_count"
down_revision = "0002_stats_and_leaderboards"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "restaurants",
        sa.Column("view_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "restaurants",
        sa.Column("trending_score", sa.Float(), server_default=sa.text("0"), nullable=False),
    )
    op.create_index(
        "ix_restaurants_city_trending",
        "restaurants",
        ["city_id", sa.literal_column("trending_score DESC"), sa.literal_column("id DESC")],
    )

    op.create_index(
        "ix_restaurants_trending",
        "restaurants",
        [sa.literal_column("trending_score DESC"), sa.literal_column("id DESC")],
    )


def downgrade():
    op.drop_index("ix_restaurants_trending", table_name="restaurants")
    op.drop_index("ix_restaurants_city_trending", table_name="restaurants")
    op.drop_column("restaurants", "trending_score")
    op.drop_column("restaurants", "view_count")
