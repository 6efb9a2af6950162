"""API response cache benchmark (issue 6): uncached vs cached vs revalidated, in the same run.

Requests a set of public API URLs (restaurant pages, text searches, city boards, review lists) in
process through the WSGI app, three ways, each URL the same number of times:
(a) with ``API_CACHE_SECONDS=0`` (every request runs its queries),
(b) with the cache on, after one warming request per URL (every request is a DynamoDB hit),
(c) with the cache on and ``If-None-Match`` (a 304 without a body).
Reports median and p95 per request for each.

Usage (PostgreSQL with data, e.g. ``make run``'s; Redis; moto on :4566 with the tables):
    DATABASE_URL=... AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:4566 \\
    REDIS_URL=redis://127.0.0.1:6379/11 .venv/bin/python bench/api_cache.py [--urls 60]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask.testing import FlaskClient
from sqlalchemy import func, select

from bellyfed import create_app
from bellyfed.dishes.models import DishType
from bellyfed.extensions import db
from bellyfed.leaderboards.models import LeaderboardEntry
from bellyfed.redis_client import get_redis
from bellyfed.restaurants.models import City, Restaurant
from bellyfed.search.versions import bump_version


def urls(count: int, rng: random.Random) -> list[str]:
    """A mix of what apps ask for most: restaurant pages, searches, boards and reviews."""
    slugs = db.session.scalars(select(Restaurant.slug).order_by(func.random()).limit(count)).all()
    names = db.session.scalars(select(DishType.name)).all()
    cities = db.session.scalars(select(City.slug)).all()
    boards = db.session.execute(
        select(DishType.slug, City.slug)
        .join(LeaderboardEntry, LeaderboardEntry.dish_type_id == DishType.id)
        .join(City, City.id == LeaderboardEntry.city_id)
        .distinct()
        .limit(count // 4)
    ).all()
    found = [f"/api/v1/restaurants/{s}" for s in slugs[: count // 2]]
    found += [f"/api/v1/restaurants/{s}/reviews" for s in slugs[count // 2 :][: count // 4]]
    found += [f"/api/v1/restaurants?q={rng.choice(names).lower()}&city={rng.choice(cities)}"
              for _ in range(count // 4)]  # fmt: skip
    found += [f"/api/v1/leaderboards/{t}/{c}" for t, c in boards]
    return found


def summary(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"{label:<28} median {statistics.median(ordered):7.2f} ms   p95 {p95:7.2f} ms   (n={len(ordered)})"


def run(
    client: FlaskClient, targets: list[str], rounds: int, etags: dict[str, str] | None = None
) -> list[float]:
    times = []
    for _ in range(rounds):
        for url in targets:
            headers = {"If-None-Match": etags[url]} if etags else {}
            started = time.perf_counter()
            response = client.get(url, headers=headers)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code in (200, 304), (url, response.status_code)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    app = create_app({
        "API_RATE_LIMIT_ANONYMOUS": "1000000 per minute",
        "API_RATE_LIMIT_ADDRESS": "1000000 per minute",
        "ANALYTICS_ENABLED": False,
    })  # fmt: skip
    with app.app_context():
        targets = urls(args.urls, random.Random(6))
        bump_version(get_redis())  # a cold cache for this run
    client = app.test_client()
    app.config["API_CACHE_SECONDS"] = 0
    uncached = run(client, targets, args.rounds)
    app.config["API_CACHE_SECONDS"] = 300
    etags = {url: client.get(url).headers["ETag"] for url in targets}  # the warming misses
    hits = run(client, targets, args.rounds)
    revalidated = run(client, targets, args.rounds, etags)
    print(f"{len(targets)} URLs x {args.rounds} rounds")
    print(summary("uncached (PostgreSQL)", uncached))
    print(summary("cached (DynamoDB hit)", hits))
    print(summary("If-None-Match -> 304", revalidated))
    print(f"speed-up of a hit: {statistics.median(uncached) / statistics.median(hits):.1f}x")


if __name__ == "__main__":
    main()
