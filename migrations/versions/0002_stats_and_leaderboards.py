"""Restaurant aggregates for the search sorts, and precomputed city leaderboards.

Revision ID: 0002_stats_and_leaderboards
Revises: 0001_initial_schema
Create Date: 2026-11-27 10:30:49.380692

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0002_stats_and_leaderboards"
down_revision = "0001_initial_schema"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "leaderboard_entries",
        sa.Column("dish_type_id", sa.BigInteger(), nullable=False),
        sa.Column("city_id", sa.BigInteger(), nullable=False),
        sa.Column("dish_id", sa.BigInteger(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("rankers", sa.Integer(), nullable=False),
        sa.Column("first_places", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["city_id"],
            ["cities.id"],
            name=op.f("fk_leaderboard_entries_city_id_cities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dish_id"],
            ["dishes.id"],
            name=op.f("fk_leaderboard_entries_dish_id_dishes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dish_type_id"],
            ["dish_types.id"],
            name=op.f("fk_leaderboard_entries_dish_type_id_dish_types"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "dish_type_id", "city_id", "dish_id", name=op.f("pk_leaderboard_entries")
        ),
    )
    with op.batch_alter_table("leaderboard_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_leaderboard_entries_board_rank", ["dish_type_id", "city_id", "rank"], unique=False
        )
        batch_op.create_index("ix_leaderboard_entries_dish_id", ["dish_id"], unique=False)

    with op.batch_alter_table("restaurants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ranking_points", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("rankers", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("review_count", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("rating_sum", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("popularity", sa.Float(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.drop_index(batch_op.f("ix_restaurants_city_id_created_at"))
        batch_op.create_index(
            "ix_restaurants_best",
            [sa.literal_column("ranking_points DESC"), sa.literal_column("id DESC")],
            unique=False,
        )
        batch_op.create_index(
            "ix_restaurants_city_best",
            ["city_id", sa.literal_column("ranking_points DESC"), sa.literal_column("id DESC")],
            unique=False,
        )
        batch_op.create_index(
            "ix_restaurants_city_newest",
            ["city_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
            unique=False,
        )
        batch_op.create_index(
            "ix_restaurants_city_popular",
            ["city_id", sa.literal_column("popularity DESC"), sa.literal_column("id DESC")],
            unique=False,
        )
        batch_op.create_index(
            "ix_restaurants_newest",
            [sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
            unique=False,
        )
        batch_op.create_index(
            "ix_restaurants_popular",
            [sa.literal_column("popularity DESC"), sa.literal_column("id DESC")],
            unique=False,
        )

    # Backfill the aggregates for data already present (same SQL as bellyfed.restaurants.stats).
    op.execute(
        """
        WITH ranked AS (
            SELECT d.restaurant_id, sum(6 - k.position) AS points, count(DISTINCT k.user_id) AS rankers
            FROM rankings k JOIN dishes d ON d.id = k.dish_id WHERE k.position IS NOT NULL
            GROUP BY d.restaurant_id
        ), reviewed AS (
            SELECT restaurant_id, count(*) AS reviews, sum(rating) AS rating_sum
            FROM reviews GROUP BY restaurant_id
        ), liked AS (
            SELECT d.restaurant_id, count(*) FILTER (WHERE v.value = 1) AS likes
            FROM dish_votes v JOIN dishes d ON d.id = v.dish_id GROUP BY d.restaurant_id
        )
        UPDATE restaurants r SET
            ranking_points = coalesce(ranked.points, 0),
            rankers = coalesce(ranked.rankers, 0),
            review_count = coalesce(reviewed.reviews, 0),
            rating_sum = coalesce(reviewed.rating_sum, 0),
            popularity = coalesce(ranked.rankers, 0) + coalesce(reviewed.reviews, 0)
                + coalesce(liked.likes, 0)
        FROM restaurants t
        LEFT JOIN ranked ON ranked.restaurant_id = t.id
        LEFT JOIN reviewed ON reviewed.restaurant_id = t.id
        LEFT JOIN liked ON liked.restaurant_id = t.id
        WHERE r.id = t.id
        """
    )


def downgrade():
    with op.batch_alter_table("restaurants", schema=None) as batch_op:
        batch_op.drop_index("ix_restaurants_popular")
        batch_op.drop_index("ix_restaurants_newest")
        batch_op.drop_index("ix_restaurants_city_popular")
        batch_op.drop_index("ix_restaurants_city_newest")
        batch_op.drop_index("ix_restaurants_city_best")
        batch_op.drop_index("ix_restaurants_best")
        batch_op.create_index(
            batch_op.f("ix_restaurants_city_id_created_at"), ["city_id", "created_at"], unique=False
        )
        batch_op.drop_column("popularity")
        batch_op.drop_column("rating_sum")
        batch_op.drop_column("review_count")
        batch_op.drop_column("rankers")
        batch_op.drop_column("ranking_points")

    with op.batch_alter_table("leaderboard_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_leaderboard_entries_dish_id")
        batch_op.drop_index("ix_leaderboard_entries_board_rank")

    op.drop_table("leaderboard_entries")
