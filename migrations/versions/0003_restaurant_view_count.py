"""Restaurant view totals copied from DynamoDB by the analytics flush.

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


def downgrade():
    op.drop_column("restaurants", "view_count")
