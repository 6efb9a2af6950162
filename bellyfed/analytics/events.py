"""Recording events on the request path: collected in ``g``, written once after the response.

Per request no Redis round trip, no DynamoDB call and no task publish: events are folded into
this process's batch, sent to Redis in one pipeline per ``ANALYTICS_BATCH_SECONDS`` (0: one
pipelined round trip per request instead). Bots are not counted. If Redis is down the page is
served and the lost events are logged and counted, never raised.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import logging
import os
import re
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime

import redis
from flask import Flask, Response, current_app, g, request
from flask_login import current_user

from bellyfed.analytics import keys
from bellyfed.core.pagecache import has_session_cookie
from bellyfed.redis_client import get_redis

log = logging.getLogger(__name__)
BOTS = re.compile(
    r"bot|crawl|spider|slurp|bingpreview|facebookexternalhit|embedly|monitor|curl|wget|"
    r"python-requests|httpclient|scrapy|feedfetcher",
    re.IGNORECASE,
)
MAX_ENTITY = 200
lost_events = 0  # events dropped because Redis was unreachable (a metric in issue 7)
Event = tuple[str, str, bool]  # (kind, entity, unique)


def record(kind: str, entity: str, *, unique: bool = False) -> None:
    """Count one event for this request (``unique``: also count the visitor per hour)."""
    # Capped: entities partly come from user input, and DynamoDB keys have a size limit.
    entity = entity.replace("|", " ")[:MAX_ENTITY]
    g.setdefault("analytics_events", []).append((kind, entity, unique))


def is_bot() -> bool:
    """A plain user-agent rule: known crawlers and scripts are not counted."""
    return _bot_agent(request.headers.get("User-Agent", "")[:512])


@functools.lru_cache(maxsize=4096)  # a few agents make most requests: match each once
def _bot_agent(agent: str) -> bool:
    return not agent or bool(BOTS.search(agent))


@functools.lru_cache(maxsize=4)
def _buckets(epoch_minute: int) -> tuple[str, str]:
    """The minute and hour bucket names of a minute since the epoch (worked out once a minute)."""
    moment = datetime.fromtimestamp(epoch_minute * 60, UTC)
    return keys.minute_of(moment), moment.strftime("%Y-%m-%dT%H")


def visitor_id() -> str:
    """Who is viewing, for unique counts: the user, else a hash of address and agent."""
    # Without a session cookie nobody is signed in; not asking Flask-Login then saves its user
    # loading (a third of a cached page's time).
    if has_session_cookie() and current_user.is_authenticated:
        return f"u{current_user.id}"
    raw = f"{request.remote_addr}|{request.headers.get('User-Agent', '')}"
    return "a" + hashlib.blake2b(raw.encode(), digest_size=8).hexdigest()


class Batch:
    """This process's events, folded in memory and sent to Redis in one pipeline per interval.

    A cached page costs well under a millisecond, and a Redis round trip per request would more
    than double that; a batch folds a second of a process's views into one pipeline (one HINCRBY
    per buffer field, one PFADD per HyperLogLog). A daemon thread sends it every
    ``ANALYTICS_BATCH_SECONDS``, and the process sends what is left when it exits (gunicorn's
    ``worker_exit`` hook and ``atexit``). A process killed outright (SIGKILL, out of memory)
    loses at most that interval of its own events.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the pending events
        self._sending = threading.Lock()  # one send at a time
        self._counts: Counter[str] = Counter()  # buffer field -> count
        self._visitors: defaultdict[str, set[str]] = defaultdict(set)  # HyperLogLog key -> ids
        self._pending = 0
        self._pid: int | None = None
        self._client: redis.Redis | None = None

    def add(self, events: list[Event], minute: str, hour: str, visitor: str) -> None:
        with self._lock:
            for kind, entity, unique in events:
                self._counts[keys.field(kind, entity, minute)] += 1
                if unique:
                    self._visitors[keys.hll_key(kind, entity, hour)].add(visitor)
            self._pending += len(events)

    def start(self, client: redis.Redis, seconds: float) -> None:
        """Start this process's sender once (again in a forked child: threads do not survive)."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid, self._client = os.getpid(), client
            self._counts, self._visitors, self._pending = Counter(), defaultdict(set), 0
        sender = threading.Thread(target=self._run, args=(seconds,), name="analytics", daemon=True)
        sender.start()
        atexit.register(self.send)

    def _run(self, seconds: float) -> None:
        while True:
            time.sleep(seconds)
            try:
                self.send()
            except Exception:  # the sender must outlive any surprise, or events pile up unsent
                log.exception("analytics: sending the batch failed")

    def send(self) -> None:
        """Send what is pending in one pipeline; on a Redis error it is counted as lost.

        One send at a time: at exit, ``worker_exit``'s send waits for the thread's to finish
        rather than find nothing pending while that batch is still on its way.
        """
        with self._sending:
            with self._lock:
                counts, visitors, pending = self._counts, self._visitors, self._pending
                self._counts, self._visitors, self._pending = Counter(), defaultdict(set), 0
            if not pending or self._client is None:
                return
            try:
                pipe = self._client.pipeline(transaction=False)
                _queue(pipe, counts, visitors)
                pipe.execute()
            except redis.RedisError as exc:
                _lost(pending, exc)


batch = Batch()


def send_pending() -> None:
    """Send this process's batched events now (gunicorn's worker_exit hook calls it)."""
    batch.send()


def _queue(pipe: redis.client.Pipeline, counts: Counter[str],
           visitors: dict[str, set[str]]) -> None:  # fmt: skip
    for buffer_field, count in counts.items():
        pipe.hincrby(keys.BUFFER, buffer_field, count)
    for hll, ids in visitors.items():
        pipe.pfadd(hll, *ids)
        pipe.expire(hll, keys.HLL_TTL)


def _lost(count: int, exc: Exception) -> None:
    global lost_events
    lost_events += count
    from bellyfed.ops.metrics import count_lost_events  # ops imports the app's features late

    count_lost_events(count)
    log.warning("analytics: Redis unavailable, %d event(s) lost (%d so far): %s",
                count, lost_events, exc)  # fmt: skip


def _write(response: Response) -> Response:
    events = g.pop("analytics_events", None)
    # API calls count whoever makes them (scripts are the point of an API), errors included.
    api = request.path.startswith("/api/")
    if not events or not current_app.config["ANALYTICS_ENABLED"]:
        return response
    if request.method == "HEAD" or (not api and (response.status_code >= 400 or is_bot())):
        return response
    minute, hour = _buckets(int(time.time() // 60))
    seconds = current_app.config["ANALYTICS_BATCH_SECONDS"]
    if seconds > 0:
        batch.start(get_redis(), seconds)
        batch.add(events, minute, hour, visitor_id())
        return response
    try:  # unbatched: one pipelined round trip now
        counts = Counter(keys.field(kind, entity, minute) for kind, entity, _ in events)
        visitors = {keys.hll_key(k, e, hour): {visitor_id()} for k, e, unique in events if unique}
        pipe = get_redis().pipeline(transaction=False)
        _queue(pipe, counts, visitors)
        pipe.execute()
    except redis.RedisError as exc:
        _lost(len(events), exc)
    return response


def init_app(app: Flask) -> None:
    """Write each request's events after its response is ready."""
    seconds = float(app.config.get("ANALYTICS_BATCH_SECONDS", 1.0))
    if not 0 <= seconds <= 60:
        raise ValueError(f"ANALYTICS_BATCH_SECONDS must be between 0 and 60, got {seconds}")
    app.config["ANALYTICS_BATCH_SECONDS"] = seconds
    app.after_request(_write)
