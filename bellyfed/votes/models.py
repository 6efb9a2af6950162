"""Likes/dislikes on dishes and "helpful" votes on reviews: one per user and item, changeable."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bellyfed.core.models import Timestamps, id_column
from bellyfed.core.vocab import VOTE_VALUES, sql_in
from bellyfed.extensions import db


class DishVote(Timestamps, db.Model):
    """+1 like, -1 dislike."""

    __tablename__ = "dish_votes"
    __table_args__ = (
        UniqueConstraint("user_id", "dish_id"),
        CheckConstraint(f"value IN ({sql_in(VOTE_VALUES)})", name="value_known"),
        Index("ix_dish_votes_dish_id_value", "dish_id", "value"),
        Index("ix_dish_votes_user_id_updated_at", "user_id", "updated_at"),
    )

    id: Mapped[int] = id_column()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    dish_id: Mapped[int] = mapped_column(ForeignKey("dishes.id", ondelete="CASCADE"))
    value: Mapped[int] = mapped_column(SmallInteger)


class ReviewVote(Timestamps, db.Model):
    """+1 helpful, -1 not helpful; both count toward the Wilson lower bound."""

    __tablename__ = "review_votes"
    __table_args__ = (
        UniqueConstraint("user_id", "review_id"),
        CheckConstraint(f"value IN ({sql_in(VOTE_VALUES)})", name="value_known"),
        Index("ix_review_votes_review_id_value", "review_id", "value"),
        Index("ix_review_votes_user_id_updated_at", "user_id", "updated_at"),
    )

    id: Mapped[int] = id_column()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    value: Mapped[int] = mapped_column(SmallInteger)
