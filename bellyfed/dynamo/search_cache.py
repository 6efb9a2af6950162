"""Cached search result pages in the ``cache`` table.

Keys:
    PK  ``SEARCH#<sha256>`` of the normalized search: text, filters, sort, page cursor, page size,
        the rounded point and radius of a ``near=`` search, and the 15-minute slot of an
        ``open_now`` search (see ``search_key``)
    SK  ``v#<version>``: the global search version (``bellyfed/search/versions.py``)
Attributes: ``ids`` restaurant ids in result order, ``distances`` (km, same order; ``near=``
searches only), ``next_cursor`` (absent on the last page), ``created_at`` (ISO), ``expires_at``
TTL (epoch seconds).

Invalidation is by version stamp, not by targeted deletes: any change to restaurants, hours,
dishes, rankings or the aggregates behind the sorts bumps the version, which is part of the key,
so every older entry becomes unreachable at once. Targeted deletes would need an index from each
restaurant to every cached page it appears in (or could appear in: a new restaurant joins searches
it was never part of), which is neither cheap nor provably complete. Unreachable items are left
for DynamoDB's TTL to delete; items past ``expires_at`` are never served, because DynamoDB deletes
late (and moto never).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bellyfed.dynamo import table
from bellyfed.search.params import SearchParams

TABLE = "cache"
SLOT_SECONDS = 15 * 60


@dataclass(frozen=True)
class CachedPage:
    """What a cached page holds: ids in order, their distances, the next cursor, its expiry."""

    ids: list[int]
    distances: list[float]
    next_cursor: str | None
    expires_at: int


def open_now_slot(now: float) -> int:
    """The 15-minute slot of ``now``. Every real UTC offset is a multiple of 15 minutes, so this is
    also the restaurant's local quarter hour, whatever its time zone."""
    return int(now // SLOT_SECONDS)


def search_key(params: SearchParams, page_size: int, now: float) -> str:
    """``SEARCH#<sha256>`` of everything that decides the page's contents."""
    shape: dict[str, Any] = {f.name: getattr(params, f.name) for f in fields(params) if f.compare}
    shape["page_size"] = page_size
    if params.open_now:  # open-now results change with the clock
        shape["slot"] = open_now_slot(now)
    raw = json.dumps(shape, sort_keys=True, separators=(",", ":"), default=str)
    return "SEARCH#" + hashlib.sha256(raw.encode()).hexdigest()


def ttl_seconds(params: SearchParams, default: int, now: float) -> int:
    """The default TTL, cut at the end of the 15-minute slot for open-now searches."""
    if params.open_now:
        return max(1, min(default, int((open_now_slot(now) + 1) * SLOT_SECONDS - now)))
    return default


def get(key: str, version: int, now: float | None = None) -> CachedPage | None:
    """The cached page under this version, or None (absent or expired)."""
    item = table(TABLE).get_item(Key={"pk": key, "sk": f"v#{version}"}).get("Item")
    now = time.time() if now is None else now
    if item is None or int(item["expires_at"]) <= now:
        return None
    return CachedPage(
        ids=[int(i) for i in item["ids"]],
        distances=[float(d) for d in item.get("distances", [])],
        next_cursor=item.get("next_cursor"),
        expires_at=int(item["expires_at"]),
    )


def put(key: str, version: int, page: CachedPage) -> None:
    """Store a page under this version (overwrites: the same search gives the same page)."""
    item: dict[str, Any] = {
        "pk": key,
        "sk": f"v#{version}",
        "ids": page.ids,
        "created_at": datetime.now(UTC).isoformat(),
        "expires_at": page.expires_at,
    }
    if page.distances:
        # repr() round-trips a float exactly, so a hit gives the very distances a search gave.
        item["distances"] = [Decimal(repr(d)) for d in page.distances]
    if page.next_cursor:
        item["next_cursor"] = page.next_cursor
    table(TABLE).put_item(Item=item)
