"""Users, their profile and their preferences."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bellyfed.core.models import Timestamps, id_column
from bellyfed.core.vocab import DIETARY_TAGS, PRICE_LEVELS, ROLES, sql_in
from bellyfed.extensions import db
from bellyfed.restaurants.models import City, Cuisine

user_favourite_cuisines = Table(
    "user_favourite_cuisines",
    db.metadata,
    Column("user_id", ForeignKey("user_preferences.user_id", ondelete="CASCADE"), primary_key=True),
    Column("cuisine_id", ForeignKey("cuisines.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_user_favourite_cuisines_cuisine_id", "cuisine_id"),
)


class User(UserMixin, Timestamps, db.Model):
    """A diner or operator account with its public profile."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("username ~ '^[a-z0-9_]{3,30}$'", name="username_format"),
        CheckConstraint("email LIKE '%_@_%' AND length(email) <= 254", name="email_shape"),
        CheckConstraint(f"role IN ({sql_in(ROLES)})", name="role_known"),
        CheckConstraint("length(display_name) BETWEEN 1 AND 60", name="display_name_length"),
        CheckConstraint("length(bio) <= 2000", name="bio_length"),
        # Emails are unique whatever their case; the column keeps what the user typed.
        Index("uq_users_email_lower", func.lower(text("email")), unique=True),
    )

    id: Mapped[int] = id_column()
    username: Mapped[str] = mapped_column(unique=True)
    email: Mapped[str]
    password_hash: Mapped[str]
    display_name: Mapped[str]
    bio: Mapped[str] = mapped_column(server_default="")
    avatar_photo_id: Mapped[int | None] = mapped_column(
        # use_alter: users and photos refer to each other; the key is added after both tables.
        ForeignKey("photos.id", ondelete="SET NULL", use_alter=True)
    )
    home_city_id: Mapped[int | None] = mapped_column(ForeignKey("cities.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(server_default="diner")
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    home_city: Mapped[City | None] = relationship()
    preferences: Mapped[UserPreferences | None] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def is_admin(self) -> bool:
        """Operators see the admin area."""
        return self.role == "admin"


class UserPreferences(db.Model):
    """What personalizes browse and search: favourite cuisines, dietary needs, price range."""

    __tablename__ = "user_preferences"
    __table_args__ = (
        CheckConstraint(
            f"price_min IS NULL OR price_min IN ({sql_in(PRICE_LEVELS)})", name="price_min_range"
        ),
        CheckConstraint(
            f"price_max IS NULL OR price_max IN ({sql_in(PRICE_LEVELS)})", name="price_max_range"
        ),
        CheckConstraint(
            "price_min IS NULL OR price_max IS NULL OR price_min <= price_max", name="price_order"
        ),
        CheckConstraint(
            f"dietary_needs <@ ARRAY[{sql_in(DIETARY_TAGS)}]::text[]", name="dietary_needs_known"
        ),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    price_min: Mapped[int | None] = mapped_column(SmallInteger)
    price_max: Mapped[int | None] = mapped_column(SmallInteger)
    dietary_needs: Mapped[list[str]] = mapped_column(
        ARRAY(Text), server_default=text("'{}'::text[]")
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    user: Mapped[User] = relationship(back_populates="preferences")
    favourite_cuisines: Mapped[list[Cuisine]] = relationship(secondary=user_favourite_cuisines)


class TwoFactor(db.Model):
    """A confirmed authenticator app (TOTP, RFC 6238) of an account: two-step sign-in is on.

    ``secret`` is encrypted with ``TOTP_ENCRYPTION_KEY`` (bellyfed/accounts/two_factor.py);
    ``last_step`` is the newest 30-second step a code was accepted for, so a code works once.
    """

    __tablename__ = "user_two_factor"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str]
    last_step: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    enabled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RecoveryCode(db.Model):
    """A one-use code that stands in for the authenticator app; only its SHA-256 is kept."""

    __tablename__ = "user_recovery_codes"
    __table_args__ = (Index("ix_user_recovery_codes_user_id", "user_id"),)

    id: Mapped[int] = id_column()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(unique=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
