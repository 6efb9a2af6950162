"""Search parameters from the query string, validated; every bad value gets a clear message."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field, replace
from datetime import datetime

from werkzeug.datastructures import MultiDict

from bellyfed.core.vocab import DIETARY_TAGS, PRICE_LEVELS

SORTS = {
    "best": "Best ranked",
    "popular": "Popular",
    "trending": "Trending",
    "nearest": "Nearest",
    "newest": "Newest",
}
MAX_QUERY = 100
MAX_RADIUS_KM = 50.0
TRUTHY = {"1", "true", "on", "yes"}
BIGINT, INT4 = 2**63, 2**31


class BadSearch(ValueError):
    """A search parameter we can't use; the message says which and why."""


@dataclass(frozen=True)
class SearchParams:
    """A normalized search: what the URL asked for, after validation."""

    q: str = ""
    city: str | None = None
    cuisines: tuple[str, ...] = ()
    prices: tuple[int, ...] = ()
    diets: tuple[str, ...] = ()
    open_now: bool = False
    near: tuple[float, float] | None = None  # (lat, lng)
    radius_km: float | None = None
    sort: str = "best"
    cursor: tuple | None = None
    explicit_filters: bool = field(default=False, compare=False)

    def with_defaults(
        self, *, city: str | None, prices: tuple[int, ...], diets: tuple[str, ...]
    ) -> SearchParams:
        """Fill the filters a diner's preferences supply, when the URL set none."""
        return replace(
            self, city=self.city or city, prices=self.prices or prices, diets=self.diets or diets
        )

    def query_args(self, **changes: object) -> dict[str, object]:
        """URL arguments reproducing this search (for links and the next page)."""
        values = replace(self, **changes) if changes else self
        args: dict[str, object] = {}
        if values.q:
            args["q"] = values.q
        if values.city:
            args["city"] = values.city
        if values.cuisines:
            args["cuisine"] = list(values.cuisines)
        if values.prices:
            args["price"] = [str(p) for p in values.prices]
        if values.diets:
            args["diet"] = list(values.diets)
        if values.open_now:
            args["open_now"] = "1"
        if values.near:
            args["near"] = f"{values.near[0]:.5f},{values.near[1]:.5f}"
        if values.radius_km:
            args["radius_km"] = f"{values.radius_km:g}"
        if values.sort != ("nearest" if values.near else "best"):
            args["sort"] = values.sort
        return args


def parse(args: MultiDict[str, str]) -> SearchParams:
    """Validate the query string into SearchParams (raises BadSearch)."""
    q = " ".join(args.get("q", "").split())
    if len(q) > MAX_QUERY:
        raise BadSearch(f"Search for at most {MAX_QUERY} characters.")
    prices = tuple(sorted({_price(p) for p in args.getlist("price") if p}))
    diets = tuple(sorted(set(filter(None, args.getlist("diet")))))
    unknown = [d for d in diets if d not in DIETARY_TAGS]
    if unknown:
        raise BadSearch(
            f"Unknown dietary filter “{unknown[0]}”. Use one of: {', '.join(DIETARY_TAGS)}."
        )
    near = _near(args.get("near", "").strip())
    radius = _radius(args.get("radius_km", "").strip(), near)
    sort = args.get("sort", "").strip() or ("nearest" if near else "best")
    if sort not in SORTS:
        raise BadSearch(f"Sort by one of: {', '.join(SORTS)}.")
    if sort == "nearest" and near is None:
        raise BadSearch("Sorting by nearest needs a location: near=LAT,LNG.")
    city = args.get("city", "").strip() or None
    cuisines = tuple(sorted(set(filter(None, (c.strip() for c in args.getlist("cuisine"))))))
    explicit = any(k in args for k in ("city", "price", "diet", "cuisine", "all"))
    return SearchParams(
        q=q, city=city, cuisines=cuisines, prices=prices, diets=diets,
        open_now=args.get("open_now", "").lower() in TRUTHY, near=near, radius_km=radius,
        sort=sort, cursor=decode_cursor(args.get("cursor", ""), sort), explicit_filters=explicit,
    )  # fmt: skip


def salvage(args: MultiDict[str, str]) -> SearchParams:
    """What can be kept of a search that failed validation, to show the form as it was typed."""
    tags = set(DIETARY_TAGS)
    return SearchParams(
        q=" ".join(args.get("q", "").split())[:MAX_QUERY],
        city=args.get("city", "").strip() or None,
        cuisines=tuple(c for c in args.getlist("cuisine") if c),
        prices=tuple(sorted({int(p) for p in args.getlist("price") if p in {"1", "2", "3", "4"}})),
        diets=tuple(sorted({d for d in args.getlist("diet") if d in tags})),
        open_now=args.get("open_now", "").lower() in TRUTHY,
        sort=args.get("sort", "") if args.get("sort", "") in SORTS else "best",
    )


def _price(raw: str) -> int:
    if raw not in {str(level) for level in PRICE_LEVELS}:
        raise BadSearch("Price levels go from 1 ($) to 4 ($$$$).")
    return int(raw)


def _near(raw: str) -> tuple[float, float] | None:
    if not raw:
        return None
    try:
        lat_text, lng_text = raw.split(",")
        lat, lng = float(lat_text), float(lng_text)
    except ValueError as exc:
        raise BadSearch("A location looks like near=3.1478,101.6953 (latitude,longitude).") from exc
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise BadSearch("Latitude goes from -90 to 90 and longitude from -180 to 180.")
    # Rounded once (about 1 m), so every page of a search measures from the same point.
    return round(lat, 5), round(lng, 5)


def _radius(raw: str, near: tuple[float, float] | None) -> float | None:
    if not raw:
        return None
    if near is None:
        raise BadSearch("A radius needs a location too: near=LAT,LNG.")
    try:
        radius = float(raw)
    except ValueError as exc:
        raise BadSearch("The radius is a number of kilometres, e.g. radius_km=3.") from exc
    if not 0.1 <= radius <= MAX_RADIUS_KM:
        raise BadSearch(f"The radius goes from 0.1 to {MAX_RADIUS_KM:g} km.")
    return radius


def encode_cursor(sort: str, value: object, row_id: int) -> str:
    """An opaque token for "the page after this row"."""
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([sort, value, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, sort: str) -> tuple | None:
    """The (value, id) a cursor points after; BadSearch if it is malformed or for another sort."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        cursor_sort, value, row_id = json.loads(raw)
        if cursor_sort != sort or not isinstance(row_id, int) or not 0 < row_id < BIGINT:
            raise ValueError(sort)
        if sort == "newest":
            value = datetime.fromisoformat(value)
        elif not isinstance(value, int | float) or isinstance(value, bool) or abs(value) >= INT4:
            raise ValueError(value)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadSearch("That page link is broken or out of date. Start the search again.") from exc
    return value, row_id
