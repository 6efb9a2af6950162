"""Public GET responses: an ETag on every one, and the body cached in DynamoDB.

A client sends ``If-None-Match`` and gets a 304 without a body; with the cache on
(``API_CACHE_SECONDS`` > 0) a repeated GET is answered from ``dynamo/api_cache.py`` without
touching PostgreSQL. ``Cache-Control: no-cache`` lets clients and proxies keep a copy but makes
them ask again each time, so a change is visible on the next request: invalidation is by the
global data version, which every write that can change an API answer bumps after commit.
Responses that say whether a restaurant is open now are keyed by their 15-minute slot too.
Only caller-independent GETs use this; a caller's own data (rankings) is never stored here.
Any Redis or DynamoDB error serves the request uncached.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from botocore.exceptions import BotoCoreError, ClientError
from flask import Response, current_app, make_response, request

from bellyfed.dynamo import api_cache
from bellyfed.dynamo.search_cache import SLOT_SECONDS, open_now_slot
from bellyfed.ops.metrics import count_cache_lookup
from bellyfed.redis_client import get_redis
from bellyfed.search.versions import read_version

log = logging.getLogger(__name__)
CACHE_ERRORS = (BotoCoreError, ClientError, redis.RedisError)
CACHE_CONTROL = "public, no-cache"


def reads_query(view: Callable[..., Any]) -> bool:
    """Whether a view declares query parameters (flask-smorest's ``@arguments`` documentation)."""
    parameters = getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", [])
    return any(p.get("in") in ("query", "querystring") for p in parameters)


def response_key(clock: bool, now: float, query: bool = True) -> str:
    """``API#<sha256>`` of the scheme and host (the body's links are absolute), the path and, for
    views with query parameters, the arguments in a stable order. A view without any ignores
    the query string, so made-up arguments cannot multiply its entries; a view with them refuses
    unknown ones (``schemas.Blueprint``) before anything is stored."""
    args = sorted((k, v) for k in request.args for v in request.args.getlist(k)) if query else []
    shape = f"{request.host_url}{request.path}?{args!r}"
    if clock:
        shape += f"#slot={open_now_slot(now)}"
    return "API#" + hashlib.sha256(shape.encode()).hexdigest()


def etag_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


def cached(*, clock: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Cache a public GET view (``clock``: its answer changes with the time of day)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        query = reads_query(view)

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            seconds = current_app.config["API_CACHE_SECONDS"]
            now = time.time()
            key = response_key(clock, now, query) if seconds else ""
            version = hit = None
            if seconds:
                try:
                    version = read_version(get_redis())
                    hit = api_cache.get(key, version, now)
                except CACHE_ERRORS as exc:
                    log.warning("API cache unavailable, answering uncached: %s", exc)
                    version = None
                count_cache_lookup("api", "error" if version is None else "hit" if hit else "miss")
            if hit is not None:
                response = current_app.response_class(hit.body, mimetype="application/json")
                response.set_etag(hit.etag)
                response.headers["X-Cache"] = "hit"
            else:
                response = make_response(view(*args, **kwargs))
                if response.status_code != 200:
                    return response
                response.set_etag(etag_of(response.get_data()))
                response.headers["X-Cache"] = "miss"
                if version is not None:
                    _store(key, version, response, _ttl(seconds, clock, now))
            response.headers["Cache-Control"] = CACHE_CONTROL
            return response.make_conditional(request)

        return wrapper

    return decorator


def _ttl(seconds: int, clock: bool, now: float) -> int:
    if clock:  # never past the end of the slot the open-now state was computed in
        return max(1, min(seconds, int((open_now_slot(now) + 1) * SLOT_SECONDS - now)))
    return seconds


def _store(key: str, version: int, response: Response, ttl: int) -> None:
    etag, _ = response.get_etag()
    cached_response = api_cache.CachedResponse(
        response.get_data(as_text=True), etag or "", int(time.time()) + ttl
    )
    try:
        api_cache.put(key, version, cached_response)
    except CACHE_ERRORS as exc:
        log.warning("API cache: could not store a response: %s", exc)
