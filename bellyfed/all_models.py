"""Imports every feature's models so ``db.metadata`` is complete (for Alembic and tests)."""

from bellyfed.accounts.models import (
    RecoveryCode,
    TwoFactor,
    User,
    UserPreferences,
    user_favourite_cuisines,
)
from bellyfed.data.models import MoveCheckpoint, ViewHistory
from bellyfed.dishes.models import Dish, DishPrice, DishType, MenuCategory
from bellyfed.leaderboards.models import LeaderboardEntry
from bellyfed.photos.models import Photo
from bellyfed.rankings.models import Ranking, RankingHistory
from bellyfed.restaurants.models import (
    City,
    Cuisine,
    OperatingHours,
    Restaurant,
    SpecialClosure,
    restaurant_cuisines,
)
from bellyfed.reviews.models import Comment, Review
from bellyfed.votes.models import DishVote, ReviewVote

__all__ = [
    "City",
    "Comment",
    "Cuisine",
    "Dish",
    "DishPrice",
    "DishType",
    "DishVote",
    "LeaderboardEntry",
    "MenuCategory",
    "MoveCheckpoint",
    "OperatingHours",
    "Photo",
    "Ranking",
    "RankingHistory",
    "RecoveryCode",
    "Restaurant",
    "Review",
    "ReviewVote",
    "SpecialClosure",
    "TwoFactor",
    "User",
    "UserPreferences",
    "ViewHistory",
    "restaurant_cuisines",
    "user_favourite_cuisines",
]
