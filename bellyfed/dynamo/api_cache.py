"""Cached API responses in the ``cache`` table (next to the search pages).

Keys:
    PK  ``API#<sha256>`` of the path and the sorted query string (and, for responses that say
        whether a restaurant is open now, the 15-minute slot)
    SK  ``v#<version>``: the global data version (``bellyfed/search/versions.py``)
Attributes: ``body`` (the JSON text as sent), ``etag``, ``created_at`` (ISO), ``expires_at`` TTL.

Invalidation is the search cache's: a change that commits bumps the version, which is part of the
key, so every response built from older data becomes unreachable at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from bellyfed.dynamo import table

TABLE = "cache"


@dataclass(frozen=True)
class CachedResponse:
    body: str
    etag: str
    expires_at: int


def get(key: str, version: int, now: float | None = None) -> CachedResponse | None:
    """The response cached under this version, or None (absent or expired)."""
    item = table(TABLE).get_item(Key={"pk": key, "sk": f"v#{version}"}).get("Item")
    now = time.time() if now is None else now
    if item is None or int(item["expires_at"]) <= now:
        return None
    return CachedResponse(item["body"], item["etag"], int(item["expires_at"]))


def put(key: str, version: int, response: CachedResponse) -> None:
    table(TABLE).put_item(
        Item={
            "pk": key, "sk": f"v#{version}", "body": response.body, "etag": response.etag,
            "created_at": datetime.now(UTC).isoformat(), "expires_at": response.expires_at,
        }
    )  # fmt: skip
