"""Cities, cuisines, restaurants and their opening hours."""

from __future__ import annotations

from datetime import date, time
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    Table,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, INT4MULTIRANGE, Range
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bellyfed.core.models import Timestamps, id_column
from bellyfed.core.vocab import PRICE_LEVELS, sql_in
from bellyfed.extensions import db

if TYPE_CHECKING:
    from bellyfed.dishes.models import Dish, MenuCategory

SLUG_CHECK = "{col} ~ '^[a-z0-9]+(-[a-z0-9]+)*$'"

restaurant_cuisines = Table(
    "restaurant_cuisines",
    db.metadata,
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True),
    Column("cuisine_id", ForeignKey("cuisines.id", ondelete="CASCADE"), primary_key=True),
    # The primary key serves "cuisines of a restaurant"; this serves the cuisine filter.
    Index("ix_restaurant_cuisines_cuisine_id_restaurant_id", "cuisine_id", "restaurant_id"),
)

# Written only by triggers (migration 0005). A search matches the query against the dictionary
# of distinct cuisine, dish type and dish names, then finds documents by city, name and term ids.
search_terms = Table(
    "search_terms",
    db.metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("term", Text, nullable=False, unique=True),
    Index(
        "ix_search_terms_term_trgm",
        "term",
        postgresql_using="gin",
        postgresql_ops={"term": "gin_trgm_ops"},
    ),
)
restaurant_search_documents = Table(
    "restaurant_search_documents",
    db.metadata,
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True),
    Column("city_id", BigInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("term_ids", ARRAY(BigInteger), nullable=False),
    # The local half hours of the week it opens in, as search_timezones.id * 336 + half hour
    # (migration 0008): a superset of "open now" that the index can intersect with the text.
    Column("open_slots", ARRAY(Integer), nullable=False, server_default=text("'{}'")),
    # btree_gin puts city_id in the same index: "this city, this text, open in this half hour"
    # is one index search.
    Index(
        "ix_restaurant_search_documents_city_id_name_term_ids_open_slots",
        "city_id",
        "name",
        "term_ids",
        "open_slots",
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    ),
)
# The time zones restaurants are in, numbered for open_slots (written only by triggers, 0008).
search_timezones = Table(
    "search_timezones",
    db.metadata,
    Column("id", SmallInteger, Identity(always=False), primary_key=True),
    Column("name", Text, nullable=False, unique=True),
)


class City(db.Model):
    """A city diners browse; leaderboards are per dish type and city."""

    __tablename__ = "cities"
    __table_args__ = (
        CheckConstraint(SLUG_CHECK.format(col="slug"), name="slug_format"),
        CheckConstraint("country_code ~ '^[A-Z]{2}$'", name="country_code_iso"),
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
    )

    id: Mapped[int] = id_column()
    slug: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str]
    country_code: Mapped[str]
    timezone: Mapped[str]  # IANA name; validated by the app (zoneinfo), not the database
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)

    restaurants: Mapped[list[Restaurant]] = relationship(back_populates="city")


class Cuisine(db.Model):
    """A kind of cooking (Malay, Hainanese, Mamak...); restaurants have several."""

    __tablename__ = "cuisines"
    __table_args__ = (
        CheckConstraint(SLUG_CHECK.format(col="slug"), name="slug_format"),
        Index(
            "ix_cuisines_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = id_column()
    slug: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(unique=True)


class Restaurant(Timestamps, db.Model):
    """A place that serves dishes, located in a city and its own time zone."""

    __tablename__ = "restaurants"
    __table_args__ = (
        CheckConstraint(SLUG_CHECK.format(col="slug"), name="slug_format"),
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        CheckConstraint(f"price_level IN ({sql_in(PRICE_LEVELS)})", name="price_level_range"),
        CheckConstraint("website IS NULL OR website ~* '^https?://'", name="website_http"),
        CheckConstraint("email IS NULL OR email LIKE '%_@_%'", name="email_shape"),
        # Search narrows by city and filters first; trigram serves typo-tolerant names.
        Index("ix_restaurants_city_id_price_level", "city_id", "price_level"),
        # A city's active restaurants, for a board's tally (bellyfed/leaderboards/compute.py).
        Index("ix_restaurants_city_id_active", "city_id", "id", postgresql_where=text("is_active")),
        # Keyset pages of each search sort, within a city and across all cities.
        Index("ix_restaurants_city_best", "city_id", text("ranking_points DESC"), text("id DESC")),
        Index("ix_restaurants_city_popular", "city_id", text("popularity DESC"), text("id DESC")),
        Index("ix_restaurants_city_newest", "city_id", text("created_at DESC"), text("id DESC")),
        Index(
            "ix_restaurants_city_trending", "city_id", text("trending_score DESC"), text("id DESC")
        ),
        Index("ix_restaurants_best", text("ranking_points DESC"), text("id DESC")),
        Index("ix_restaurants_popular", text("popularity DESC"), text("id DESC")),
        Index("ix_restaurants_newest", text("created_at DESC"), text("id DESC")),
        Index("ix_restaurants_trending", text("trending_score DESC"), text("id DESC")),
        Index(
            "ix_restaurants_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
        # KNN (ORDER BY location <-> point) and bounding boxes for "nearest" and radius filters.
        Index(
            "ix_restaurants_location",
            func.point(text("longitude"), text("latitude")),
            postgresql_using="gist",
        ),
    )

    id: Mapped[int] = id_column()
    slug: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str]
    description: Mapped[str] = mapped_column(server_default="")
    address_line: Mapped[str]
    postcode: Mapped[str | None]
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str]  # IANA name, e.g. Asia/Kuala_Lumpur
    phone: Mapped[str | None]
    website: Mapped[str | None]
    email: Mapped[str | None]
    price_level: Mapped[int] = mapped_column(SmallInteger)
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    # Aggregates kept by bellyfed.restaurants.stats, read by the search sorts.
    ranking_points: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    rankers: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    review_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    rating_sum: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    popularity: Mapped[float] = mapped_column(Float, server_default=text("0"))
    view_count: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))  # from analytics
    trending_score: Mapped[float] = mapped_column(Float, server_default=text("0"))  # time-decayed
    # The opening hours as local minutes of the week (Monday 00:00 = 0), kept by a trigger on
    # operating_hours (migration 0007): "open now" filters on it. Not loaded with a restaurant.
    open_week: Mapped[list[Range[int]]] = mapped_column(
        INT4MULTIRANGE, server_default=text("'{}'"), deferred=True
    )

    city: Mapped[City] = relationship(back_populates="restaurants")
    cuisines: Mapped[list[Cuisine]] = relationship(
        secondary=restaurant_cuisines, order_by=Cuisine.name
    )
    hours: Mapped[list[OperatingHours]] = relationship(
        back_populates="restaurant",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="(OperatingHours.weekday, OperatingHours.opens_at)",
    )
    closures: Mapped[list[SpecialClosure]] = relationship(
        back_populates="restaurant", cascade="all, delete-orphan", passive_deletes=True
    )
    menu_categories: Mapped[list[MenuCategory]] = relationship(
        back_populates="restaurant",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="MenuCategory.position",
    )
    dishes: Mapped[list[Dish]] = relationship(
        back_populates="restaurant", cascade="all, delete-orphan", passive_deletes=True
    )


class OperatingHours(db.Model):
    """One opening interval on a weekday; a day may have several (split shifts).

    The interval is [opens_at, closes_at). A ``closes_at`` at or before ``opens_at`` means it runs
    past midnight into the next day (18:00-02:00, or 18:00-00:00 for "until midnight"); equal
    times mean open around the clock (00:00-00:00 is a 24-hour day).
    """

    __tablename__ = "operating_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("date_trunc('minute', opens_at) = opens_at", name="opens_whole_minute"),
        CheckConstraint("date_trunc('minute', closes_at) = closes_at", name="closes_whole_minute"),
        UniqueConstraint("restaurant_id", "weekday", "opens_at"),
    )

    id: Mapped[int] = id_column()
    restaurant_id: Mapped[int] = mapped_column(ForeignKey("restaurants.id", ondelete="CASCADE"))
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 = Monday, as date.weekday()
    opens_at: Mapped[time] = mapped_column(Time)
    closes_at: Mapped[time] = mapped_column(Time)

    restaurant: Mapped[Restaurant] = relationship(back_populates="hours")

    @property
    def crosses_midnight(self) -> bool:
        """True when the interval ends on the next day."""
        return self.closes_at <= self.opens_at


class SpecialClosure(db.Model):
    """Days a restaurant is closed regardless of its weekly hours (holidays, renovation)."""

    __tablename__ = "special_closures"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="date_order"),
        Index("ix_special_closures_restaurant_id_ends_on", "restaurant_id", "ends_on"),
    )

    id: Mapped[int] = id_column()
    restaurant_id: Mapped[int] = mapped_column(ForeignKey("restaurants.id", ondelete="CASCADE"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(server_default="")

    restaurant: Mapped[Restaurant] = relationship(back_populates="closures")
