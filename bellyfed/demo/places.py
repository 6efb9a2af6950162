"""Demo restaurants with their cuisines, hours, closures, menus, dishes and price changes."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from random import Random

from bellyfed.core.text import slugify
from bellyfed.demo.catalog import (
    ARCHETYPES,
    CHINESE_SYLLABLES,
    CITIES,
    COURSES,
    DISH_TYPES,
    HOURS_PATTERNS,
    MALAY_NAMES,
    PEOPLE,
    TAMIL_NAMES,
    UNTYPED_ITEMS,
    ArchetypeSpec,
    CitySpec,
)
from bellyfed.demo.world import ANCHOR, DemoWorld, Rows

PRICE_FACTOR = {1: 0.85, 2: 1.0, 3: 1.35, 4: 1.8}
SGD_PER_MYR = 0.55  # hawker-price parity rather than the exchange rate
CLOSURES = (
    (date(2027, 2, 6), date(2027, 2, 9), "Chinese New Year"),
    (date(2027, 3, 20), date(2027, 3, 21), "Hari Raya Aidilfitri"),
    (date(2026, 12, 25), date(2026, 12, 25), "Christmas Day"),
    (date(2026, 11, 16), date(2026, 11, 30), "Renovation"),
)


def generate_restaurants(world: DemoWorld, count: int) -> Rows:
    """The next ``count`` restaurants and everything that hangs off them."""
    rows: Rows = defaultdict(list)
    for _ in range(count):
        _restaurant(world, rows)
    return rows


def _name(world: DemoWorld, arch: ArchetypeSpec) -> tuple[str, str]:
    rng = world.rng
    pattern = rng.choice(arch.names)
    dish = DISH_TYPES[world.dish_type_index[rng.choice(arch.dish_types)]].name
    name = pattern.format(
        malay=rng.choice(MALAY_NAMES),
        tamil=rng.choice(TAMIL_NAMES),
        syll=rng.choice(CHINESE_SYLLABLES),
        person=rng.choice(PEOPLE),
        dish=dish,
    )
    # Patterns may use {syll} twice; give the second its own syllable.
    if pattern.count("{syll}") == 2:
        first, second = rng.sample(CHINESE_SYLLABLES, 2)
        name = pattern.replace("{syll}", first, 1).replace("{syll}", second, 1)
        name = name.format(malay="", tamil="", person="", dish=dish)
    return name, dish


def _restaurant(world: DemoWorld, rows: Rows) -> None:
    rng = world.rng
    rid = world.next_id("restaurants")
    city_index = world.pick_city()
    city = CITIES[city_index]
    arch = rng.choices(ARCHETYPES, cum_weights=world.archetype_cum)[0]
    name, signature = _name(world, arch)
    quality = rng.betavariate(2.5, 2.0)
    price_level = rng.choice(arch.price_levels)
    created_at = ANCHOR - timedelta(days=rng.randint(60, 1500), minutes=rng.randint(0, 1439))
    slug = world.unique_slug(f"{name} {city.name}")
    area = rng.choice(city.areas)
    address = f"{rng.randint(1, 250)}, {rng.choice(city.streets)}, {area}"
    phone = f"{city.phone_prefix}{rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
    website = f"https://{slug}.example.com" if rng.random() < 0.4 else None
    email = f"hello@{slug}.example.com" if rng.random() < 0.2 else None
    description = f"{arch.cuisines[0]} favourite in {area}, known for its {signature.lower()}."
    rows["restaurants"].append((
        rid, slug, name, description, address, str(rng.randint(*city.postcode_range)),
        world.city_ids[city_index], round(city.latitude + _offset(rng), 6),
        round(city.longitude + _offset(rng), 6), city.timezone, phone, website, email,
        price_level, created_at, created_at,
    ))  # fmt: skip
    world.restaurant_quality[rid] = quality
    world.restaurant_pools[city_index].add(rid, 0.2 + quality**2)
    cuisines = [arch.cuisines[0]] + [c for c in arch.cuisines[1:] if rng.random() < 0.5]
    rows["restaurant_cuisines"].extend((rid, world.cuisine_ids[c]) for c in cuisines)
    _hours(world, rows, rid, rng.choice(arch.hours))
    if rng.random() < 0.08:
        starts, ends, reason = rng.choice(CLOSURES)
        rows["special_closures"].append(
            (world.next_id("special_closures"), rid, starts, ends, reason)
        )
    _menu(world, rows, rid, city_index, city, arch, price_level, quality, created_at)


def _offset(rng: Random) -> float:
    """A position offset in degrees: most places within ~5 km of the centre, none past ~13 km."""
    return max(-0.12, min(0.12, rng.gauss(0, 0.04)))


def _hours(world: DemoWorld, rows: Rows, rid: int, pattern_key: str) -> None:
    shift = world.rng.choice((0, 0, 0, 30, -30))  # some open half an hour earlier or later
    for weekday, intervals in HOURS_PATTERNS[pattern_key].items():
        for opens, closes in intervals:
            opens_at = _clock(opens, shift if opens != closes else 0)
            closes_at = _clock(closes, 0)
            rows["operating_hours"].append(
                (world.next_id("operating_hours"), rid, weekday, opens_at, closes_at)
            )


def _clock(hhmm: str, shift_minutes: int) -> time:
    hours, minutes = map(int, hhmm.split(":"))
    total = (hours * 60 + minutes + shift_minutes) % (24 * 60)
    return time(total // 60, total % 60)


def _menu(
    world: DemoWorld,
    rows: Rows,
    rid: int,
    city_index: int,
    city: CitySpec,
    arch: ArchetypeSpec,
    price_level: int,
    quality: float,
    created_at: datetime,
) -> None:
    rng = world.rng
    count = rng.randint(min(4, len(arch.dish_types)), min(8, len(arch.dish_types)))
    items: list[tuple[str, int | None, str]] = []  # (menu name, dish type index, course)
    for type_name in rng.sample(arch.dish_types, count):
        type_index = world.dish_type_index[type_name]
        spec = DISH_TYPES[type_index]
        variants = rng.sample(
            spec.variants, 2 if len(spec.variants) > 1 and rng.random() < 0.3 else 1
        )
        items.extend((variant.format(spec.name), type_index, spec.course) for variant in variants)
    for course in ("Drinks", "Snacks", "Desserts"):
        if rng.random() < 0.5:
            items.append((rng.choice(UNTYPED_ITEMS[course])[0], None, course))
    courses = sorted({course for _, _, course in items}, key=COURSES.index)
    category_ids = {}
    for position, course in enumerate(courses):
        category_ids[course] = world.next_id("menu_categories")
        rows["menu_categories"].append((category_ids[course], rid, course, position))
    base_tags = ["halal"] if arch.halal else (["no-pork-no-lard"] if arch.no_pork else [])
    dishes, slugs = [], set()
    for position, (name, type_index, course) in enumerate(items):
        if name in {d[1] for d in dishes}:
            continue
        did = world.next_id("dishes")
        slug = slugify(name) if slugify(name) not in slugs else f"{slugify(name)}-{position}"
        slugs.add(slug)
        spec = DISH_TYPES[type_index] if type_index is not None else None
        low, high = spec.price_myr if spec else (1, 5)
        price = _price(rng.uniform(low, high) * PRICE_FACTOR[price_level], city.currency)
        tags = sorted(set(base_tags) | set(spec.tags if spec else ()))
        spice = max(0, min(5, (spec.spice if spec else 0) + rng.choice((-1, 0, 0, 1))))
        rows["dishes"].append((
            did, rid, world.dish_type_ids[type_index] if spec else None, category_ids[course], slug,
            name, spec.description if spec else "", position, price, city.currency, tags, spice,
            created_at, created_at,
        ))  # fmt: skip
        dishes.append((did, name))
        if spec is not None:
            dish_quality = 0.5 * quality + 0.5 * rng.betavariate(2, 2)
            world.dish_quality[did] = dish_quality
            world.dish_pools[(city_index, type_index)].add(did, 0.15 + dish_quality**2)
        if rng.random() < 0.08:
            step = 50 if price > 2000 else 10
            new_price = max(price + step, round(price * rng.uniform(1.05, 1.25) / step) * step)
            world.price_changes.append(
                (did, new_price, world.moment_between(created_at + timedelta(days=30)))
            )
    world.restaurant_dishes[rid] = dishes


def _price(amount: float, currency: str) -> int:
    """Minor units, rounded like menus are: to 10 sen / cents, 50 above 20."""
    if currency == "SGD":
        amount *= SGD_PER_MYR
    step = 50 if amount > 20 else 10
    return max(step, round(amount * 100 / step) * step)
