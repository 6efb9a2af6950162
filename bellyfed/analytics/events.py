"""Recording events on the request path: collected in ``g``, written once after the response.

Per request at most one pipelined Redis round trip (HINCRBY per event, PFADD per unique), no
DynamoDB call and no task publish. Bots are not counted. If Redis is down the page is served
and the lost events are logged and counted, never raised.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC, datetime

import redis
from flask import Flask, Response, current_app, g, request
from flask_login import current_user

from bellyfed.analytics import keys
from bellyfed.redis_client import get_redis

log = logging.getLogger(__name__)
BOTS = re.compile(
    r"bot|crawl|spider|slurp|bingpreview|facebookexternalhit|embedly|monitor|curl|wget|"
    r"python-requests|httpclient|scrapy|feedfetcher",
    re.IGNORECASE,
)
MAX_ENTITY = 200
lost_events = 0  # events dropped because Redis was unreachable (a metric in issue 7)


def record(kind: str, entity: str, *, unique: bool = False) -> None:
    """Count one event for this request (``unique``: also count the visitor per hour)."""
    # Capped: entities partly come from user input, and DynamoDB keys have a size limit.
    entity = entity.replace("|", " ")[:MAX_ENTITY]
    g.setdefault("analytics_events", []).append((kind, entity, unique))


def is_bot() -> bool:
    """A plain user-agent rule: known crawlers and scripts are not counted."""
    agent = request.headers.get("User-Agent", "")
    return not agent or bool(BOTS.search(agent))


def visitor_id() -> str:
    """Who is viewing, for unique counts: the user, else a hash of address and agent."""
    if current_user.is_authenticated:
        return f"u{current_user.id}"
    raw = f"{request.remote_addr}|{request.headers.get('User-Agent', '')}"
    return "a" + hashlib.blake2b(raw.encode(), digest_size=8).hexdigest()


def _write(response: Response) -> Response:
    global lost_events
    events = g.pop("analytics_events", None)
    # API calls count whoever makes them (scripts are the point of an API), errors included.
    api = request.path.startswith("/api/")
    if not events or not current_app.config["ANALYTICS_ENABLED"]:
        return response
    if request.method == "HEAD" or (not api and (response.status_code >= 400 or is_bot())):
        return response
    now = datetime.now(UTC)
    minute, hour = keys.minute_of(now), now.strftime("%Y-%m-%dT%H")
    try:
        pipe = get_redis().pipeline(transaction=False)
        for kind, entity, unique in events:
            pipe.hincrby(keys.BUFFER, keys.field(kind, entity, minute), 1)
            if unique:
                hll = keys.hll_key(kind, entity, hour)
                pipe.pfadd(hll, visitor_id())
                pipe.expire(hll, keys.HLL_TTL)
        pipe.execute()
    except redis.RedisError as exc:
        lost_events += len(events)
        log.warning(
            "analytics: Redis unavailable, %d event(s) lost (%d so far): %s",
            len(events),
            lost_events,
            exc,
        )
    return response


def init_app(app: Flask) -> None:
    """Write each request's events after its response is ready."""
    app.after_request(_write)
