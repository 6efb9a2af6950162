"""Each diner's top-5 per dish type, taste-status marks, and the history of every change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bellyfed.core.models import Timestamps, id_column
from bellyfed.core.vocab import TASTE_STATUSES, sql_in
from bellyfed.dishes.models import Dish
from bellyfed.extensions import db

RANKING_ACTIONS = ("ranked", "moved", "status_set", "updated", "removed", "dropped")


class Ranking(Timestamps, db.Model):
    """A diner's verdict on one dish: a position 1-5 in the dish type's top-5, or a taste status.

    The database holds the rules: one ranking per user and dish, one dish per user, dish type and
    position (deferrable, so "move everyone down one" is a single UPDATE), position XOR status.
    ``dish_type_id`` is the dish's own, kept equal by a composite foreign key.
    """

    __tablename__ = "rankings"
    __table_args__ = (
        CheckConstraint("position BETWEEN 1 AND 5", name="position_range"),
        CheckConstraint(f"taste_status IN ({sql_in(TASTE_STATUSES)})", name="taste_status_known"),
        CheckConstraint(
            "(position IS NULL) <> (taste_status IS NULL)", name="position_xor_taste_status"
        ),
        UniqueConstraint("user_id", "dish_id"),
        UniqueConstraint(
            "user_id", "dish_type_id", "position", deferrable=True, initially="IMMEDIATE"
        ),
        ForeignKeyConstraint(
            ["dish_id", "dish_type_id"],
            ["dishes.id", "dishes.dish_type_id"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        # Leaderboards: all ranked positions of a dish type, grouped by dish.
        Index(
            "ix_rankings_dish_type_id_dish_id_ranked",
            "dish_type_id",
            "dish_id",
            "position",
            postgresql_where=text("position IS NOT NULL"),
        ),
        Index("ix_rankings_dish_id_dish_type_id", "dish_id", "dish_type_id"),
    )

    id: Mapped[int] = id_column()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    dish_id: Mapped[int] = mapped_column()
    dish_type_id: Mapped[int] = mapped_column()
    position: Mapped[int | None] = mapped_column(SmallInteger)
    taste_status: Mapped[str | None]
    notes: Mapped[str] = mapped_column(server_default="")
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photos.id", ondelete="SET NULL"))

    dish: Mapped[Dish] = relationship(
        foreign_keys=[dish_id], primaryjoin="Ranking.dish_id == Dish.id", viewonly=True
    )


class RankingHistory(db.Model):
    """One change to a diner's rankings, kept for their history page (and "recently dropped")."""

    __tablename__ = "ranking_history"
    __table_args__ = (
        CheckConstraint(f"action IN ({sql_in(RANKING_ACTIONS)})", name="action_known"),
        CheckConstraint(
            "old_position IS NULL OR old_position BETWEEN 1 AND 5", name="old_position_range"
        ),
        CheckConstraint(
            "new_position IS NULL OR new_position BETWEEN 1 AND 5", name="new_position_range"
        ),
        Index("ix_ranking_history_user_id_created_at", "user_id", "created_at"),
        Index("ix_ranking_history_dish_id", "dish_id"),
    )

    id: Mapped[int] = id_column()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    dish_id: Mapped[int] = mapped_column(ForeignKey("dishes.id", ondelete="CASCADE"))
    dish_type_id: Mapped[int] = mapped_column(ForeignKey("dish_types.id", ondelete="CASCADE"))
    action: Mapped[str]
    old_position: Mapped[int | None] = mapped_column(SmallInteger)
    new_position: Mapped[int | None] = mapped_column(SmallInteger)
    old_taste_status: Mapped[str | None]
    new_taste_status: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
