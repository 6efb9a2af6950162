"""The columns the demo loader writes, per table, in the order its rows list them."""
# fmt: off
# ruff: noqa: E501

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "cities": ("id", "slug", "name", "country_code", "timezone", "latitude", "longitude"),
    "cuisines": ("id", "slug", "name"),
    "dish_types": ("id", "slug", "name", "description"),
    "restaurants": (
        "id", "slug", "name", "description", "address_line", "postcode", "city_id", "latitude",
        "longitude", "timezone", "phone", "website", "email", "price_level", "created_at", "updated_at",
    ),
    "restaurant_cuisines": ("restaurant_id", "cuisine_id"),
    "operating_hours": ("id", "restaurant_id", "weekday", "opens_at", "closes_at"),
    "special_closures": ("id", "restaurant_id", "starts_on", "ends_on", "reason"),
    "menu_categories": ("id", "restaurant_id", "name", "position"),
    "dishes": (
        "id", "restaurant_id", "dish_type_id", "menu_category_id", "slug", "name", "description",
        "position", "price_minor", "currency", "dietary_tags", "spice_level", "created_at", "updated_at",
    ),
    "users": (
        "id", "username", "email", "password_hash", "display_name", "bio", "home_city_id", "role",
        "created_at", "updated_at",
    ),
    "user_preferences": ("user_id", "price_min", "price_max", "dietary_needs", "updated_at"),
    "user_favourite_cuisines": ("user_id", "cuisine_id"),
    "rankings": (
        "id", "user_id", "dish_id", "dish_type_id", "position", "taste_status", "notes",
        "created_at", "updated_at",
    ),
    "ranking_history": (
        "id", "user_id", "dish_id", "dish_type_id", "action", "old_position", "new_position",
        "old_taste_status", "new_taste_status", "created_at",
    ),
    "reviews": (
        "id", "user_id", "restaurant_id", "dish_id", "rating", "title", "body", "visited_on",
        "created_at", "updated_at",
    ),
    "comments": ("id", "review_id", "user_id", "body", "created_at", "updated_at"),
    "dish_votes": ("id", "user_id", "dish_id", "value", "created_at", "updated_at"),
    "review_votes": ("id", "user_id", "review_id", "value", "created_at", "updated_at"),
}

# Tables with an identity ``id`` whose sequence the loader moves past the ids it wrote.
IDENTITY_TABLES = tuple(name for name, cols in TABLE_COLUMNS.items() if cols[0] == "id")

# Every table the demo data fills (or that refers to its users), children first: the order
# --reset empties them in.
ALL_TABLES = (
    "restaurant_search_documents", "search_terms", "leaderboard_entries", "review_votes",
    "comments", "dish_votes", "ranking_history", "rankings", "photos", "reviews",
    "user_favourite_cuisines", "user_preferences", "user_recovery_codes", "user_two_factor",
    "users", "dish_prices", "dishes",
    "menu_categories", "special_closures", "operating_hours", "restaurant_cuisines", "restaurants",
    "dish_types", "cuisines", "cities",
)
# fmt: on
