"""Keep the most popular searches cached before people ask (run by the worker every minute).

Popular searches are counted where they happen: the search view adds each first-page search's
query string to a per-day ZSET (``bellyfed:search:popular:<day>``) in the same pipelined Redis
round trip that reads the cache version. Query strings parse back into exactly the
``SearchParams`` the view ran, which the analytics metric (lower-cased text, no sort or location)
cannot, so the page warmed here is the very page the next diner asks for.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import redis
from werkzeug.datastructures import MultiDict

from bellyfed.dynamo import search_cache
from bellyfed.search.params import BadSearch, parse
from bellyfed.search.queries import PAGE_SIZE, popular_key, search, store
from bellyfed.search.versions import read_version

# Beat runs every 60 s: renew entries that would expire before the run after next.
RENEW_WITHIN_SECONDS = 120


def popular_searches(redis_client: redis.Redis, limit: int) -> list[str]:
    """Today's and yesterday's most run searches (query strings), most popular first."""
    now = datetime.now(UTC)
    totals: Counter[str] = Counter()
    for day in (now, now - timedelta(days=1)):  # yesterday too, so midnight doesn't empty the list
        for member, score in redis_client.zrevrange(
            popular_key(day), 0, limit - 1, withscores=True
        ):
            totals[member.decode()] += score
    return [query for query, _ in totals.most_common(limit)]


def refresh_popular(redis_client: redis.Redis, limit: int = 20) -> int:
    """Search and cache the popular searches that are missing or about to expire; how many."""
    version, now = read_version(redis_client), time.time()
    refreshed = 0
    for query in popular_searches(redis_client, limit):
        try:
            params = parse(MultiDict(parse_qsl(query, keep_blank_values=True)))
        except BadSearch:  # a search that no longer validates (e.g. a vocabulary change)
            continue
        key = search_cache.search_key(params, PAGE_SIZE, now)
        cached = search_cache.get(key, version, now)
        if cached is not None and cached.expires_at > now + RENEW_WITHIN_SECONDS:
            continue
        store(key, version, params, search(params, PAGE_SIZE), now)
        refreshed += 1
    return refreshed
