"""Dish types (the cross-restaurant kind), menus, dishes and their price history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bellyfed.core.models import Timestamps, id_column
from bellyfed.core.vocab import DIETARY_TAGS, SPICE_LEVELS, sql_in
from bellyfed.extensions import db
from bellyfed.restaurants.models import SLUG_CHECK, Restaurant

DIETARY_TAGS_CHECK = f"dietary_tags <@ ARRAY[{sql_in(DIETARY_TAGS)}]::text[]"


class DishType(db.Model):
    """The kind of dish compared across restaurants: "Nasi Lemak", "Char Kway Teow"."""

    __tablename__ = "dish_types"
    __table_args__ = (
        CheckConstraint(SLUG_CHECK.format(col="slug"), name="slug_format"),
        Index(
            "ix_dish_types_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = id_column()
    slug: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(unique=True)
    description: Mapped[str] = mapped_column(server_default="")


class MenuCategory(db.Model):
    """A section of one restaurant's menu ("Rice", "Noodles", "Drinks"), in menu order."""

    __tablename__ = "menu_categories"
    __table_args__ = (
        UniqueConstraint("restaurant_id", "name"),
        CheckConstraint("position >= 0", name="position_non_negative"),
    )

    id: Mapped[int] = id_column()
    restaurant_id: Mapped[int] = mapped_column(ForeignKey("restaurants.id", ondelete="CASCADE"))
    name: Mapped[str]
    position: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))

    restaurant: Mapped[Restaurant] = relationship(back_populates="menu_categories")
    dishes: Mapped[list[Dish]] = relationship(
        back_populates="menu_category", order_by="Dish.position"
    )


class Dish(Timestamps, db.Model):
    """A restaurant's menu item, optionally of a dish type (only typed dishes can be ranked)."""

    __tablename__ = "dishes"
    __table_args__ = (
        UniqueConstraint("restaurant_id", "slug"),
        # Target of the rankings' composite foreign key: a ranking's dish type is its dish's.
        UniqueConstraint("id", "dish_type_id"),
        CheckConstraint(SLUG_CHECK.format(col="slug"), name="slug_format"),
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
        CheckConstraint("price_minor >= 0", name="price_non_negative"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint(
            f"spice_level BETWEEN {SPICE_LEVELS.start} AND {SPICE_LEVELS.stop - 1}",
            name="spice_level_range",
        ),
        CheckConstraint(DIETARY_TAGS_CHECK, name="dietary_tags_known"),
        # Carries the id: a board's tally reads a city's dishes of a type from the index alone.
        Index(
            "ix_dishes_dish_type_id_restaurant_id",
            "dish_type_id",
            "restaurant_id",
            postgresql_include=["id"],
        ),
        Index("ix_dishes_menu_category_id", "menu_category_id"),
        Index("ix_dishes_dietary_tags", "dietary_tags", postgresql_using="gin"),
    )

    id: Mapped[int] = id_column()
    restaurant_id: Mapped[int] = mapped_column(ForeignKey("restaurants.id", ondelete="CASCADE"))
    # RESTRICT: rankings copy the dish type, so a dish type in use cannot silently disappear.
    dish_type_id: Mapped[int | None] = mapped_column(
        ForeignKey("dish_types.id", ondelete="RESTRICT")
    )
    menu_category_id: Mapped[int | None] = mapped_column(
        ForeignKey("menu_categories.id", ondelete="SET NULL")
    )
    slug: Mapped[str]
    name: Mapped[str]
    description: Mapped[str] = mapped_column(server_default="")
    position: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    price_minor: Mapped[int] = mapped_column(Integer)  # sen / cents
    currency: Mapped[str]  # ISO 4217: MYR, SGD
    dietary_tags: Mapped[list[str]] = mapped_column(
        ARRAY(Text), server_default=text("'{}'::text[]")
    )
    spice_level: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    is_available: Mapped[bool] = mapped_column(server_default=text("true"))

    restaurant: Mapped[Restaurant] = relationship(back_populates="dishes")
    dish_type: Mapped[DishType | None] = relationship()
    menu_category: Mapped[MenuCategory | None] = relationship(back_populates="dishes")
    prices: Mapped[list[DishPrice]] = relationship(
        back_populates="dish", order_by="DishPrice.valid_from", viewonly=True
    )


class DishPrice(db.Model):
    """A dish's price from ``valid_from`` on; written by a database trigger on every change.

    The trigger (see the migration) makes the history impossible to forget: inserting a dish or
    changing ``price_minor``/``currency`` records a row, whoever runs the statement.
    """

    __tablename__ = "dish_prices"
    __table_args__ = (
        CheckConstraint("price_minor >= 0", name="price_non_negative"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        Index("ix_dish_prices_dish_id_valid_from", "dish_id", "valid_from"),
    )

    id: Mapped[int] = id_column()
    dish_id: Mapped[int] = mapped_column(ForeignKey("dishes.id", ondelete="CASCADE"))
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str]
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    dish: Mapped[Dish] = relationship(back_populates="prices")
