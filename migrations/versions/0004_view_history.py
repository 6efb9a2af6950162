"""Daily view history copied from DynamoDB for reporting, and the data moves' checkpoints.

Revision ID: 0004_view_history
Revises: 0003_restaurant_view_count
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_view_history"
down_revision = "0003_restaurant_view_count"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "view_history",
        sa.Column("entity_type", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=False),
        sa.Column(
            "copied_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint("views >= 0", name=op.f("ck_view_history_views_not_negative")),
        sa.PrimaryKeyConstraint("entity_type", "entity_id", "day", name=op.f("pk_view_history")),
    )
    op.create_index("ix_view_history_day", "view_history", ["day"])
    op.create_table(
        "data_move_checkpoints",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_data_move_checkpoints")),
    )


def downgrade():
    op.drop_table("data_move_checkpoints")
    op.drop_index("ix_view_history_day", table_name="view_history")
    op.drop_table("view_history")
