"""Column helpers shared by the feature models."""

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, func
from sqlalchemy.orm import Mapped, mapped_column


def id_column() -> Mapped[int]:
    """A ``bigint`` identity primary key; BY DEFAULT so bulk loads may assign reserved ids."""
    return mapped_column(BigInteger, Identity(always=False), primary_key=True)


class Timestamps:
    """``created_at`` / ``updated_at`` kept by the database clock."""

    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )
