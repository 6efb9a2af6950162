"""factory_boy factories for every model; rows are flushed into the test transaction."""

from __future__ import annotations

from datetime import UTC, time

import factory
from factory.alchemy import SQLAlchemyModelFactory

from bellyfed.all_models import (
    City,
    Comment,
    Cuisine,
    Dish,
    DishPrice,
    DishType,
    DishVote,
    MenuCategory,
    OperatingHours,
    Photo,
    Ranking,
    RankingHistory,
    Restaurant,
    Review,
    ReviewVote,
    SpecialClosure,
    TwoFactor,
    User,
    UserPreferences,
)
from bellyfed.extensions import db

# Computed once: argon2 is deliberately slow, and tests make many users.
TEST_PASSWORD = "correct horse battery staple"
TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # an authenticator app's secret, base32
_TEST_HASH = None


def _password_hash() -> str:
    global _TEST_HASH
    if _TEST_HASH is None:
        from bellyfed.accounts.passwords import hash_password

        _TEST_HASH = hash_password(TEST_PASSWORD)
    return _TEST_HASH


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class CityFactory(Base):
    class Meta:
        model = City

    slug = factory.Sequence(lambda n: f"city-{n}")
    name = factory.Sequence(lambda n: f"City {n}")
    country_code = "MY"
    timezone = "Asia/Kuala_Lumpur"
    latitude = 3.1478
    longitude = 101.6953


class CuisineFactory(Base):
    class Meta:
        model = Cuisine

    slug = factory.Sequence(lambda n: f"cuisine-{n}")
    name = factory.Sequence(lambda n: f"Cuisine {n}")


class RestaurantFactory(Base):
    class Meta:
        model = Restaurant

    slug = factory.Sequence(lambda n: f"restaurant-{n}")
    name = factory.Sequence(lambda n: f"Restoran {n}")
    address_line = "1, Jalan Alor, Bukit Bintang"
    city = factory.SubFactory(CityFactory)
    latitude = 3.1456
    longitude = 101.7087
    timezone = "Asia/Kuala_Lumpur"
    price_level = 2


class OperatingHoursFactory(Base):
    class Meta:
        model = OperatingHours

    restaurant = factory.SubFactory(RestaurantFactory)
    weekday = 0
    opens_at = time(11, 0)
    closes_at = time(22, 0)


class SpecialClosureFactory(Base):
    class Meta:
        model = SpecialClosure

    restaurant = factory.SubFactory(RestaurantFactory)
    starts_on = factory.Faker("date_object")
    ends_on = factory.SelfAttribute("starts_on")
    reason = "Public holiday"


class DishTypeFactory(Base):
    class Meta:
        model = DishType

    slug = factory.Sequence(lambda n: f"dish-type-{n}")
    name = factory.Sequence(lambda n: f"Dish Type {n}")


class MenuCategoryFactory(Base):
    class Meta:
        model = MenuCategory

    restaurant = factory.SubFactory(RestaurantFactory)
    name = factory.Sequence(lambda n: f"Section {n}")


class DishFactory(Base):
    class Meta:
        model = Dish

    restaurant = factory.SubFactory(RestaurantFactory)
    dish_type = factory.SubFactory(DishTypeFactory)
    slug = factory.Sequence(lambda n: f"dish-{n}")
    name = factory.Sequence(lambda n: f"Dish {n}")
    price_minor = 1200
    currency = "MYR"
    dietary_tags = factory.LazyFunction(list)


class DishPriceFactory(Base):
    """A past price; current prices are recorded by the database trigger."""

    class Meta:
        model = DishPrice

    dish_id = factory.LazyFunction(lambda: DishFactory().id)
    price_minor = 1000
    currency = "MYR"
    valid_from = factory.Faker("date_time", tzinfo=UTC)


class UserFactory(Base):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"diner_{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password_hash = factory.LazyFunction(_password_hash)
    display_name = factory.Sequence(lambda n: f"Diner {n}")

    @factory.post_generation
    def two_factor(
        user: User,  # noqa: N805 - factory_boy passes the user made, not a factory
        create: bool,
        extracted: bool | None,
        **kwargs: object,
    ) -> None:
        """Operators come with two-step sign-in on (admin pages require it), on
        ``TEST_TOTP_SECRET``; ``two_factor=False`` makes one who has not set it up, ``True``
        turns it on for a diner."""
        wanted = user.role == "admin" if extracted is None else extracted
        if create and wanted:
            from bellyfed.accounts.two_factor import encrypt

            db.session.add(TwoFactor(user_id=user.id, secret=encrypt(TEST_TOTP_SECRET)))
            db.session.flush()


class UserPreferencesFactory(Base):
    class Meta:
        model = UserPreferences

    user = factory.SubFactory(UserFactory)
    price_min = 1
    price_max = 3
    dietary_needs = factory.LazyFunction(list)


class PhotoFactory(Base):
    class Meta:
        model = Photo

    uploader_id = factory.LazyFunction(lambda: UserFactory().id)
    storage_key = factory.Sequence(lambda n: f"photos/{n}.jpg")
    content_type = "image/jpeg"
    width = 800
    height = 600
    byte_size = 120_000
    sha256 = factory.Sequence(lambda n: f"{n:064x}")


class RankingFactory(Base):
    class Meta:
        model = Ranking

    user_id = factory.LazyFunction(lambda: UserFactory().id)
    dish_id = factory.LazyFunction(lambda: DishFactory().id)
    dish_type_id = factory.LazyAttribute(lambda o: db.session.get(Dish, o.dish_id).dish_type_id)
    position = 1


class RankingHistoryFactory(Base):
    class Meta:
        model = RankingHistory

    user_id = factory.LazyFunction(lambda: UserFactory().id)
    dish_id = factory.LazyFunction(lambda: DishFactory().id)
    dish_type_id = factory.LazyAttribute(lambda o: db.session.get(Dish, o.dish_id).dish_type_id)
    action = "ranked"
    new_position = 1


class ReviewFactory(Base):
    class Meta:
        model = Review

    user_id = factory.LazyFunction(lambda: UserFactory().id)
    restaurant_id = factory.LazyFunction(lambda: RestaurantFactory().id)
    rating = 4
    body = "Proper wok hei, would come back."


class CommentFactory(Base):
    class Meta:
        model = Comment

    review = factory.SubFactory(ReviewFactory)
    user_id = factory.LazyFunction(lambda: UserFactory().id)
    body = "Agree, the sambal is on point!"


class DishVoteFactory(Base):
    class Meta:
        model = DishVote

    user_id = factory.LazyFunction(lambda: UserFactory().id)
    dish_id = factory.LazyFunction(lambda: DishFactory().id)
    value = 1


class ReviewVoteFactory(Base):
    class Meta:
        model = ReviewVote

    user_id = factory.LazyFunction(lambda: UserFactory().id)
    review_id = factory.LazyFunction(lambda: ReviewFactory().id)
    value = 1
