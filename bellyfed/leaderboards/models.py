"""Precomputed city leaderboards: one row per dish on the board of its dish type and city."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bellyfed.dishes.models import Dish
from bellyfed.extensions import db


class LeaderboardEntry(db.Model):
    """A dish's standing: rebuilt per (dish type, city) soon after a ranking there changes."""

    __tablename__ = "leaderboard_entries"
    __table_args__ = (
        Index("ix_leaderboard_entries_board_rank", "dish_type_id", "city_id", "rank"),
        Index("ix_leaderboard_entries_dish_id", "dish_id"),
    )

    dish_type_id: Mapped[int] = mapped_column(
        ForeignKey("dish_types.id", ondelete="CASCADE"), primary_key=True
    )
    city_id: Mapped[int] = mapped_column(
        ForeignKey("cities.id", ondelete="CASCADE"), primary_key=True
    )
    dish_id: Mapped[int] = mapped_column(
        ForeignKey("dishes.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    rankers: Mapped[int] = mapped_column(Integer)  # diners with the dish in their top-5
    first_places: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)  # sum of (6 - position)
    computed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    dish: Mapped[Dish] = relationship()
