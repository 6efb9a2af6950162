"""The state shared while generating demo data: one seeded RNG, id counters and lookup pools.

Everything is generated in one fixed order from one ``random.Random(seed)``, so the same seed and
sizes always give the same rows, whatever the batch size.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from random import Random

from bellyfed.core.text import slugify
from bellyfed.demo.catalog import ARCHETYPES, CITIES, CUISINES, DISH_TYPES

# Demo time stands still at this instant so reruns produce identical timestamps.
ANCHOR = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

Rows = dict[str, list[tuple]]


@dataclass(frozen=True)
class DemoSize:
    """How much demo data to make."""

    restaurants: int = 300
    users: int | None = None  # default: two per restaurant, at least 100
    seed: int = 20261127

    @property
    def user_count(self) -> int:
        return self.users if self.users is not None else max(100, 2 * self.restaurants)


@dataclass
class WeightedPool:
    """Items with cumulative weights, for repeated weighted picks in O(log n)."""

    items: list[int] = field(default_factory=list)
    cum_weights: list[float] = field(default_factory=list)

    def add(self, item: int, weight: float) -> None:
        total = self.cum_weights[-1] if self.cum_weights else 0.0
        self.items.append(item)
        self.cum_weights.append(total + weight)

    def pick(self, rng: Random, k: int) -> list[int]:
        """Up to ``k`` distinct items, likelier ones first more often."""
        if not self.items:
            return []
        total = self.cum_weights[-1]
        seen: dict[int, None] = {}
        for _ in range(k):
            index = bisect.bisect_right(self.cum_weights, rng.random() * total)
            seen.setdefault(self.items[min(index, len(self.items) - 1)])
        return list(seen)


class DemoWorld:
    """Seeded RNG, id counters and the pools later stages draw from."""

    def __init__(self, size: DemoSize, id_bases: dict[str, int]) -> None:
        self.size = size
        self.rng = Random(size.seed)
        self._ids = {table: itertools.count(base) for table, base in id_bases.items()}
        self.city_ids = [self.next_id("cities") for _ in CITIES]
        self.cuisine_ids = {name: self.next_id("cuisines") for name in CUISINES}
        self.dish_type_ids = [self.next_id("dish_types") for _ in DISH_TYPES]
        self.dish_type_index = {spec.name: i for i, spec in enumerate(DISH_TYPES)}
        self.city_cum = list(itertools.accumulate(c.share for c in CITIES))
        self.archetype_cum = list(itertools.accumulate(a.share for a in ARCHETYPES))
        self.slugs: set[str] = set()
        # Filled while restaurants are generated, read while people are.
        self.dish_quality: dict[int, float] = {}
        self.dish_pools: dict[tuple[int, int], WeightedPool] = defaultdict(WeightedPool)
        self.restaurant_pools: list[WeightedPool] = [WeightedPool() for _ in CITIES]
        self.restaurant_dishes: dict[int, list[tuple[int, str]]] = {}
        self.restaurant_quality: dict[int, float] = {}
        self.city_reviews: list[list[tuple[int, int, datetime]]] = [[] for _ in CITIES]
        self.price_changes: list[tuple[int, int, datetime]] = []
        self._types_in_city: dict[int, list[int]] = {}
        self.users: list[tuple[int, int, datetime]] = []  # (id, city index, created_at)

    def next_id(self, table: str) -> int:
        return next(self._ids[table])

    def pick_city(self) -> int:
        return self.rng.choices(range(len(CITIES)), cum_weights=self.city_cum)[0]

    def types_in_city(self, city_index: int) -> list[int]:
        """Dish type indexes that have dishes in the city (call once every restaurant exists)."""
        if city_index not in self._types_in_city:
            self._types_in_city[city_index] = [t for (c, t) in self.dish_pools if c == city_index]
        return self._types_in_city[city_index]

    def unique_slug(self, text: str) -> str:
        base = slugify(text)
        slug, n = base, 1
        while slug in self.slugs:
            n += 1
            slug = f"{base}-{n}"
        self.slugs.add(slug)
        return slug

    def moment_between(self, start: datetime, end: datetime = ANCHOR) -> datetime:
        """A whole-second instant in [start, end]; ``end`` when the range is empty."""
        span = int((end - start).total_seconds())
        return end if span <= 0 else start + timedelta(seconds=self.rng.randint(0, span))

    def reference_rows(self) -> Rows:
        """Cities, cuisines and dish types."""
        return {
            "cities": [
                (cid, c.slug, c.name, c.country_code, c.timezone, c.latitude, c.longitude)
                for cid, c in zip(self.city_ids, CITIES, strict=True)
            ],
            "cuisines": [(cid, slugify(name), name) for name, cid in self.cuisine_ids.items()],
            "dish_types": [
                (tid, slugify(d.name), d.name, d.description)
                for tid, d in zip(self.dish_type_ids, DISH_TYPES, strict=True)
            ],
        }
