"""Tables of the data moves: daily view history for reporting, and the moves' checkpoints."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, DateTime, Index, Integer, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from bellyfed.extensions import db


class ViewHistory(db.Model):
    """One entity's views on one UTC day, copied from the analytics table's ``D#<day>`` buckets.

    No foreign key to restaurants or dish types: history outlives the rows it counted, and
    reports join on ``(entity_type, entity_id)`` when they want names.
    """

    __tablename__ = "view_history"
    __table_args__ = (
        CheckConstraint("views >= 0", name="views_not_negative"),
        Index("ix_view_history_day", "day"),  # "views per day across all restaurants"
    )

    entity_type: Mapped[str] = mapped_column(primary_key=True)  # restaurant, dish_type
    entity_id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    views: Mapped[int]
    copied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MoveCheckpoint(db.Model):
    """Where a move (one kind, one direction) stands: the next batch starts at ``position``."""

    __tablename__ = "data_move_checkpoints"

    name: Mapped[str] = mapped_column(primary_key=True)  # "preferences:postgresql->dynamodb"
    position: Mapped[Any | None] = mapped_column(JSONB)  # None: from the beginning
    batches: Mapped[int] = mapped_column(Integer)
    records: Mapped[int]  # written so far
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
