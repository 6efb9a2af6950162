"""Read queries for review lists: newest or most helpful (Wilson lower bound)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from bellyfed.extensions import db
from bellyfed.reviews.models import Comment, Review
from bellyfed.votes.models import ReviewVote
from bellyfed.votes.wilson import wilson_sql

SORTS = ("helpful", "newest")


def reviews_for(
    restaurant_id: int, sort: str = "helpful", limit: int = 20, offset: int = 0
) -> list[Review]:
    """A restaurant's reviews with authors, photos and comments loaded (four queries in all)."""
    helpful = (
        select(
            ReviewVote.review_id,
            func.count().filter(ReviewVote.value == 1).label("up"),
            func.count().label("total"),
        )
        .join(Review, Review.id == ReviewVote.review_id)
        .where(Review.restaurant_id == restaurant_id)
        .group_by(ReviewVote.review_id)
        .subquery()
    )
    query = (
        select(Review)
        .outerjoin(helpful, helpful.c.review_id == Review.id)
        .where(Review.restaurant_id == restaurant_id)
        .options(
            joinedload(Review.author),
            selectinload(Review.photos),
            selectinload(Review.comments).joinedload(Comment.author),
        )
        .limit(limit)
        .offset(offset)
    )
    if sort == "newest":
        query = query.order_by(Review.created_at.desc(), Review.id.desc())
    else:
        score = wilson_sql(func.coalesce(helpful.c.up, 0), func.coalesce(helpful.c.total, 0))
        query = query.order_by(score.desc(), Review.created_at.desc(), Review.id.desc())
    return list(db.session.scalars(query))
