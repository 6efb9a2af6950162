"""Photo metadata; the bytes live in object storage (S3) under ``storage_key``."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column

from bellyfed.core.models import Timestamps, id_column
from bellyfed.core.vocab import PHOTO_CONTENT_TYPES, sql_in
from bellyfed.extensions import db


class Photo(Timestamps, db.Model):
    """An uploaded image: attached to a review, a ranking, or a user's avatar."""

    __tablename__ = "photos"
    __table_args__ = (
        CheckConstraint(
            f"content_type IN ({sql_in(PHOTO_CONTENT_TYPES)})", name="content_type_image"
        ),
        CheckConstraint("width > 0 AND height > 0", name="dimensions_positive"),
        CheckConstraint("byte_size > 0", name="byte_size_positive"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        CheckConstraint("position >= 0", name="position_non_negative"),
        Index("ix_photos_uploader_id", "uploader_id"),
        Index("ix_photos_review_id_position", "review_id", "position"),
    )

    id: Mapped[int] = id_column()
    uploader_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    storage_key: Mapped[str] = mapped_column(unique=True)
    thumbnail_key: Mapped[str | None] = mapped_column(unique=True)
    content_type: Mapped[str]
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    byte_size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str]
    alt_text: Mapped[str] = mapped_column(server_default="")
