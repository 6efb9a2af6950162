"""Reviews of restaurants and the comments on them."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bellyfed.accounts.models import User
from bellyfed.core.models import Timestamps, id_column
from bellyfed.extensions import db
from bellyfed.photos.models import Photo
from bellyfed.restaurants.models import Restaurant


class Review(Timestamps, db.Model):
    """A diner's rated account of a visit, optionally about one dish, with photos."""

    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint("length(btrim(body)) BETWEEN 1 AND 5000", name="body_length"),
        CheckConstraint("length(title) <= 120", name="title_length"),
        Index("ix_reviews_restaurant_id_created_at", "restaurant_id", "created_at"),
        Index("ix_reviews_user_id_created_at", "user_id", "created_at"),
        Index("ix_reviews_dish_id", "dish_id"),
    )

    id: Mapped[int] = id_column()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    restaurant_id: Mapped[int] = mapped_column(ForeignKey("restaurants.id", ondelete="CASCADE"))
    dish_id: Mapped[int | None] = mapped_column(ForeignKey("dishes.id", ondelete="SET NULL"))
    rating: Mapped[int] = mapped_column(SmallInteger)
    title: Mapped[str] = mapped_column(server_default="")
    body: Mapped[str]
    visited_on: Mapped[date | None] = mapped_column(Date)

    author: Mapped[User] = relationship()
    restaurant: Mapped[Restaurant] = relationship()
    photos: Mapped[list[Photo]] = relationship(order_by=Photo.position, passive_deletes=True)
    comments: Mapped[list[Comment]] = relationship(
        back_populates="review", order_by="Comment.created_at", passive_deletes=True
    )


class Comment(Timestamps, db.Model):
    """A diner's reply under a review."""

    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint("length(btrim(body)) BETWEEN 1 AND 2000", name="body_length"),
        Index("ix_comments_review_id_created_at", "review_id", "created_at"),
        Index("ix_comments_user_id", "user_id"),
    )

    id: Mapped[int] = id_column()
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str]

    review: Mapped[Review] = relationship(back_populates="comments")
    author: Mapped[User] = relationship()
