"""Search cache benchmark (issue 5): cached vs uncached search latency in the same run.

A replay of realistic searches (dish types, cuisines, cities, price/diet/open-now filters, sorts,
a few located searches), drawn with a Zipf-like skew as real traffic repeats itself, is run
(a) uncached through ``search()`` and (b) through ``cached_search()`` from a cold cache (a fresh
version). Reports median and p95 per search, the hits' own latency, and the replay's hit ratio.

Usage (PostgreSQL with data, Redis, moto on :4566; tables from ``flask dynamo create-tables``):
    DATABASE_URL=... AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:4566 \\
    REDIS_URL=redis://127.0.0.1:6379/11 .venv/bin/python bench/search_cache.py [--searches 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from bellyfed import create_app
from bellyfed.dishes.models import DishType
from bellyfed.extensions import db
from bellyfed.redis_client import get_redis
from bellyfed.restaurants.models import City, Cuisine
from bellyfed.search import queries
from bellyfed.search.params import SearchParams, parse
from bellyfed.search.versions import bump_version


def distinct_searches(rng: random.Random) -> list[dict]:
    """Searches people type: dish names, cuisines, a city, a filter or two, sometimes a sort."""
    dishes = db.session.scalars(select(DishType.name)).all()
    cuisines = db.session.scalars(select(Cuisine.slug)).all()
    cities = db.session.execute(select(City.slug, City.latitude, City.longitude)).all()
    searches = []
    for dish in dishes:
        search = {"q": dish.lower() if rng.random() < 0.5 else dish}
        if rng.random() < 0.6:
            search["city"] = rng.choice(cities).slug
        if rng.random() < 0.2:
            search["price"] = str(rng.randint(1, 2))
        searches.append(search)
    for cuisine in cuisines:
        searches.append({"cuisine": cuisine, "city": rng.choice(cities).slug})
    for city in cities:
        searches += [{"city": city.slug}, {"city": city.slug, "sort": "popular"},
                     {"city": city.slug, "open_now": "1"}, {"city": city.slug, "diet": "halal"},
                     {"near": f"{city.latitude},{city.longitude}", "radius_km": "3"}]  # fmt: skip
    rng.shuffle(searches)
    return searches


def timed(run: Callable[[SearchParams], object], replay: list[dict]) -> list[float]:
    times = []
    for search in replay:
        params = parse(MultiDict(search))
        started = time.perf_counter()
        run(params)
        times.append((time.perf_counter() - started) * 1000)
        db.session.rollback()
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"median {statistics.median(ordered):8.2f} ms   p95 {p95:8.2f} ms   (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    app = create_app()
    with app.app_context():
        distinct = distinct_searches(rng)
        weights = [1 / (rank + 1) for rank in range(len(distinct))]  # Zipf, s = 1
        replay = rng.choices(distinct, weights=weights, k=args.searches)
        timed(queries.search, replay[:10])  # warm PostgreSQL's buffers and the pool
        uncached = timed(queries.search, replay)
        bump_version(get_redis())  # a cold cache
        seen: set[str] = set()
        outcomes: list[bool] = []
        for search in replay:
            key = repr(sorted(search.items()))
            outcomes.append(key in seen)
            seen.add(key)
        cached = timed(queries.cached_search, replay)
        hits = [t for t, hit in zip(cached, outcomes, strict=True) if hit]
        misses = [t for t, hit in zip(cached, outcomes, strict=True) if not hit]
        print(f"replay: {len(replay)} searches, {len(distinct)} distinct, {len(seen)} used")
        print(f"uncached search()        {summary(uncached)}")
        print(f"cached_search(), all     {summary(cached)}")
        print(f"cached_search(), hits    {summary(hits)}")
        print(f"cached_search(), misses  {summary(misses)}")
        print(f"hit ratio                {len(hits) / len(replay):.1%}")
        print(f"median speed-up on hits  {statistics.median(uncached) / statistics.median(hits):.1f}x"
              f"   over the replay {statistics.median(uncached) / statistics.median(cached):.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
