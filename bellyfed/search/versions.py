"""The global search version: part of every search cache key (and of every cached API response,
``api/cache.py``), bumped after any change that can alter search results or API answers, so a
change makes every cached page unreachable at once.

Kept in Redis (``bellyfed:search:version``). Bumps happen **after commit**: write paths only mark
the session (``mark_changed``), and a session listener bumps once the transaction has committed.
Bumping before commit would let a concurrent search cache the pre-commit rows under the new
version, and they would be served until they expired. ORM writes to restaurants, hours, closures,
dishes, cuisines, cities and dish types mark the session by themselves; SQL that bypasses the ORM
(the aggregates in ``restaurants/stats.py``, trending scores, the demo loader) calls
``mark_changed``.

A missing key (Redis restarted without persistence) starts again at the current time in
microseconds, above any version used before, so old entries never become reachable again.
"""

from __future__ import annotations

import logging
import time
from itertools import chain

import redis
from flask import has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from bellyfed.extensions import db
from bellyfed.redis_client import get_redis

log = logging.getLogger(__name__)
VERSION = "bellyfed:search:version"
CHANGED = "search_results_changed"  # a flag in Session.info until the commit
WATCHED_TABLES = frozenset(
    {"restaurants", "operating_hours", "special_closures", "dishes", "cuisines", "cities",
     "dish_types", "photos"}
)  # fmt: skip


def queue_read_version(pipe: redis.client.Pipeline) -> None:
    """Queue reading the version on a pipeline (its last result is the version)."""
    pipe.set(VERSION, time.time_ns() // 1000, nx=True)
    pipe.get(VERSION)


def read_version(redis_client: redis.Redis) -> int:
    """The current search version."""
    pipe = redis_client.pipeline(transaction=False)
    queue_read_version(pipe)
    return int(pipe.execute()[-1])


def bump_version(redis_client: redis.Redis) -> int:
    """Make every cached search unreachable; returns the new version."""
    pipe = redis_client.pipeline(transaction=False)
    pipe.set(VERSION, time.time_ns() // 1000, nx=True)
    pipe.incr(VERSION)
    return int(pipe.execute()[-1])


def mark_changed(session: Session | None = None) -> None:
    """Search results change when this transaction commits: bump the version then."""
    (session or db.session).info[CHANGED] = True


@event.listens_for(Session, "after_flush")
def _watch_orm_writes(session: Session, _context: object) -> None:
    for obj in chain(session.new, session.dirty, session.deleted):
        if getattr(obj, "__tablename__", None) in WATCHED_TABLES:
            session.info[CHANGED] = True
            return


@event.listens_for(Session, "after_commit")
def _bump_after_commit(session: Session) -> None:
    # Not cleared on rollback: a spare bump only costs cache misses, a lost one would serve stale.
    if not session.info.pop(CHANGED, False) or not has_app_context():
        return
    try:
        bump_version(get_redis())
    except redis.RedisError as exc:
        # Readers run uncached while Redis is down; entries stored before may be served until
        # they expire (SEARCH_CACHE_SECONDS) if Redis comes back without this bump.
        log.error("search cache: version bump failed, cached pages may be stale: %s", exc)
