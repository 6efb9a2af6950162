"""Demo diners: accounts, preferences, rankings with history, votes, reviews and comments."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from bellyfed.core.vocab import PRICE_LEVELS, TASTE_STATUSES
from bellyfed.demo.catalog import (
    CITIES,
    COMMENTS,
    CUISINES,
    DETAILS,
    RANKING_NOTES,
    REVIEW_GRIPES,
    REVIEW_OPENERS,
    REVIEW_PRAISE,
)
from bellyfed.demo.world import ANCHOR, DemoWorld, Rows

FIRST_NAMES = (
    "Aisyah", "Farid", "Nurul", "Hafiz", "Wei Ling", "Jun Hao", "Mei Xin", "Kah Wai", "Priya",
    "Arjun", "Kavitha", "Ravi", "Siew Mun", "Daniel", "Sarah", "Ahmad", "Li Ting", "Marcus",
    "Deepa", "Zul", "Chloe", "Irfan", "Hui Min", "Vikram",
)  # fmt: skip
LAST_NAMES = (
    "Tan", "Lim", "Lee", "Wong", "Ng", "Abdullah", "Ismail", "Rahman", "Kumar", "Pillai",
    "Chong", "Goh", "Yusof", "Singh", "Teo", "Ong", "Nair", "Hassan", "Chua", "Koh",
)  # fmt: skip
# Accounts with known passwords, so a person can sign in to the demo (see README).
NAMED_ACCOUNTS = (("demo", "Demo Diner", "diner"), ("operator", "Demo Operator", "admin"))


def generate_users(world: DemoWorld, first_index: int, count: int, password_hash: str) -> Rows:
    """Users ``first_index .. first_index+count-1`` with their rankings, votes and reviews."""
    rows: Rows = defaultdict(list)
    for index in range(first_index, first_index + count):
        _user(world, rows, index, password_hash)
    return rows


def generate_social(world: DemoWorld, users: list[tuple[int, int, datetime]]) -> Rows:
    """Helpful votes and comments on reviews, once every review exists."""
    rows: Rows = defaultdict(list)
    rng = world.rng
    for user_id, city_index, _ in users:
        reviews = world.city_reviews[city_index]
        if not reviews:
            continue
        voted: set[int] = set()
        for _ in range(rng.choice((0, 1, 2, 3, 4, 6))):
            review_id, author_id, written = rng.choice(reviews)
            if author_id == user_id or review_id in voted:
                continue
            voted.add(review_id)
            at = world.moment_between(written, min(ANCHOR, written + timedelta(days=60)))
            value = 1 if rng.random() < 0.8 else -1
            rows["review_votes"].append(
                (world.next_id("review_votes"), user_id, review_id, value, at, at)
            )
        if rng.random() < 0.25:
            review_id, _, written = rng.choice(reviews)
            at = world.moment_between(written, min(ANCHOR, written + timedelta(days=14)))
            rows["comments"].append(
                (world.next_id("comments"), review_id, user_id, rng.choice(COMMENTS), at, at)
            )
    return rows


def _user(world: DemoWorld, rows: Rows, index: int, password_hash: str) -> None:
    rng = world.rng
    uid = world.next_id("users")
    city_index = world.pick_city()
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    if index < len(NAMED_ACCOUNTS):
        username, display_name, role = NAMED_ACCOUNTS[index]
    else:
        username, display_name, role = (
            f"{first.split()[0].lower()}_{index}",
            f"{first} {last}",
            "diner",
        )
    created_at = ANCHOR - timedelta(days=rng.randint(2, 900), minutes=rng.randint(0, 1439))
    bio = rng.choice(
        (
            "",
            "",
            "Hunting the best nasi lemak, one stall at a time.",
            "Noodles > rice.",
            "Will queue for good char kway teow.",
            f"{CITIES[city_index].name} born and fed.",
        )
    )
    email = f"{username}@example.com"
    rows["users"].append((uid, username, email, password_hash, display_name, bio,
                          world.city_ids[city_index], role, created_at, created_at))  # fmt: skip
    world.users.append((uid, city_index, created_at))
    if rng.random() < 0.7:
        low, high = sorted(rng.sample(PRICE_LEVELS, 2))
        needs = [tag for tag, p in (("halal", 0.2), ("vegetarian", 0.08), ("no-pork-no-lard", 0.05))
                 if rng.random() < p]  # fmt: skip
        rows["user_preferences"].append((uid, low, high, needs, created_at))
        for cuisine in rng.sample(CUISINES, rng.randint(0, 3)):
            rows["user_favourite_cuisines"].append((uid, world.cuisine_ids[cuisine]))
    _rankings(world, rows, uid, city_index, created_at)
    _reviews(world, rows, uid, city_index, created_at)


def _rankings(world: DemoWorld, rows: Rows, uid: int, city_index: int, since: datetime) -> None:
    rng = world.rng
    types = world.types_in_city(city_index)
    voted: set[int] = set()
    for type_index in rng.sample(types, min(len(types), rng.choice((0, 1, 1, 2, 2, 3, 4)))):
        pool = world.dish_pools[(city_index, type_index)]
        known = pool.pick(rng, 12)
        by_taste = sorted(
            known, key=lambda d: world.dish_quality[d] + rng.gauss(0, 0.15), reverse=True
        )
        ranked = by_taste[: min(5, rng.randint(1, 5))]
        marked = by_taste[len(ranked) : len(ranked) + rng.choice((0, 0, 1, 2))]
        type_id = world.dish_type_ids[type_index]
        for position, dish_id in enumerate(ranked, start=1):
            at = world.moment_between(since)
            rid = world.next_id("rankings")
            rows["rankings"].append(
                (rid, uid, dish_id, type_id, position, None, rng.choice(RANKING_NOTES), at, at)
            )
            _history(world, rows, uid, dish_id, type_id, "ranked", None, position, None, None, at)
        for dish_id in marked:
            quality = world.dish_quality[dish_id]
            status = (
                TASTE_STATUSES[2]
                if quality < 0.35
                else TASTE_STATUSES[1]
                if quality < 0.55
                else TASTE_STATUSES[0]
            )
            at = world.moment_between(since)
            rows["rankings"].append(
                (world.next_id("rankings"), uid, dish_id, type_id, None, status, "", at, at)
            )
            _history(world, rows, uid, dish_id, type_id, "status_set", None, None, None, status, at)
        dropped = by_taste[len(ranked) + len(marked) :]
        if dropped and len(ranked) == 5 and rng.random() < 0.3:
            at = world.moment_between(since)
            _history(world, rows, uid, dropped[0], type_id, "dropped", 5, None, None, None, at)
        for dish_id in known[: rng.randint(0, 3)]:
            if dish_id not in voted:
                voted.add(dish_id)
                value = 1 if rng.random() < 0.3 + 0.65 * world.dish_quality[dish_id] else -1
                at = world.moment_between(since)
                rows["dish_votes"].append(
                    (world.next_id("dish_votes"), uid, dish_id, value, at, at)
                )


def _history(
    world: DemoWorld,
    rows: Rows,
    uid: int,
    dish_id: int,
    type_id: int,
    action: str,
    old_pos: int | None,
    new_pos: int | None,
    old_status: str | None,
    new_status: str | None,
    at: datetime,
) -> None:
    rows["ranking_history"].append((world.next_id("ranking_history"), uid, dish_id, type_id, action,
                                    old_pos, new_pos, old_status, new_status, at))  # fmt: skip


def _reviews(world: DemoWorld, rows: Rows, uid: int, city_index: int, since: datetime) -> None:
    rng = world.rng
    pool = world.restaurant_pools[city_index]
    for restaurant_id in pool.pick(rng, rng.choice((0, 0, 1, 1, 2, 3, 4, 5, 6))):
        quality = world.restaurant_quality[restaurant_id]
        rating = max(1, min(5, round(1 + 4 * quality + rng.gauss(0, 0.7))))
        dish_id, dish_name = rng.choice(world.restaurant_dishes[restaurant_id])
        praise = rng.choice(REVIEW_PRAISE).format(dish=dish_name, detail=rng.choice(DETAILS))
        body = " ".join((rng.choice(REVIEW_OPENERS), praise, rng.choice(REVIEW_GRIPES)))
        title = rng.choice(
            ("", f"{dish_name} worth the trip", f"Solid {dish_name.lower()}", "Mixed feelings")
        )
        visited = world.moment_between(since, ANCHOR - timedelta(days=1))
        written = world.moment_between(visited, min(ANCHOR, visited + timedelta(days=5)))
        review_id = world.next_id("reviews")
        about_dish = dish_id if rng.random() < 0.7 else None
        rows["reviews"].append((review_id, uid, restaurant_id, about_dish, rating,
                                title, body, visited.date(), written, written))  # fmt: skip
        world.city_reviews[city_index].append((review_id, uid, written))
