"""Thin Celery tasks: each calls a plain function in ``bellyfed`` that tests call directly.

Every task is idempotent, so redelivery (acks_late) and retries never double-count.
"""

from botocore.exceptions import BotoCoreError, ClientError
from celery import shared_task
from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError

from bellyfed.accounts.password_reset import send_link
from bellyfed.analytics import trending
from bellyfed.analytics.flush import flush
from bellyfed.analytics.rollups import rollup_recent
from bellyfed.core.mail import Message, deliver
from bellyfed.extensions import db
from bellyfed.leaderboards.compute import recompute_all
from bellyfed.leaderboards.updates import recompute_queued
from bellyfed.ops.heartbeat import record_heartbeat
from bellyfed.redis_client import get_redis
from bellyfed.search.refresh import refresh_popular

TRANSIENT = (BotoCoreError, ClientError, RedisError, ConnectionError)
# Backoff stays inside each task's expiry (worker/schedule.py), so retries do run; after that the
# next beat run takes over (the flush re-drives whatever a failed run left).
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 20,
    "max_retries": 3,
}


@shared_task(name="worker.tasks.heartbeat", **RETRY)
def heartbeat() -> float:
    """Record that a worker is alive and beat is scheduling (runs inside an app context)."""
    return record_heartbeat(get_redis())


@shared_task(name="worker.tasks.flush_events", **RETRY)
def flush_events() -> dict:
    """Move buffered views, clicks and metrics into DynamoDB, exactly once."""
    report = flush(get_redis())
    return {"batches": report.batches, "events": report.events, "writes": report.writes}


@shared_task(name="worker.tasks.rollup_today", **RETRY)
def rollup_today() -> int:
    """Yesterday's and today's daily buckets from the hour buckets."""
    return rollup_recent(get_redis())


@shared_task(name="worker.tasks.recompute_trending", **RETRY)
def recompute_trending() -> dict[str, int]:
    """Trending top-N per city, scores and popularity back to PostgreSQL."""
    counts = trending.recompute(get_redis(), current_app.config["TRENDING_HALF_LIFE_HOURS"])
    db.session.commit()
    return counts


@shared_task(name="worker.tasks.recompute_leaderboards", **RETRY)
def recompute_leaderboards() -> int:
    """Every city leaderboard: the safety net for a board recompute never queued, or lost."""
    entries = recompute_all()
    db.session.commit()
    return entries


# A board's writers queue behind a full recompute's table lock and may hit the statement timeout:
# worth another try, as is a lost database connection.
@shared_task(name="worker.tasks.recompute_leaderboard",
             **(RETRY | {"autoretry_for": (*TRANSIENT, OperationalError)}))  # fmt: skip
def recompute_leaderboard(dish_type_id: int, city_id: int) -> int:
    """One city board, queued (debounced) after its rankings changed; see leaderboards.updates."""
    return recompute_queued((dish_type_id, city_id))


@shared_task(name="worker.tasks.refresh_search_cache", **RETRY)
def refresh_search_cache() -> int:
    """Cache the day's most popular searches before they are asked for (or expire)."""
    refreshed = refresh_popular(get_redis())
    db.session.rollback()  # read-only: end the searches' transaction
    return refreshed


@shared_task(name="worker.tasks.send_email", **RETRY)
def send_email(message: dict[str, str]) -> None:
    """Deliver one email (a ``Message`` as a dict) through MAIL_BACKEND; unreachable: retried."""
    # The one task that is not idempotent: a worker lost after the server took the message sends
    # it again on redelivery. A rare duplicate email beats a lost reset link.
    deliver(Message(**message))


@shared_task(name="worker.tasks.send_password_reset", **RETRY)
def send_password_reset(identifier: str, url_root: str) -> bool:
    """Email a reset link to the account ``identifier`` names, if any (built on ``url_root``)."""
    # Every /auth/forgot request queues this, whatever account it names: the lookup happens here.
    # A retry (DynamoDB or the queue failing) counts once more against the account's hourly
    # limit: at worst one email fewer. The email itself goes out in its own send_email task.
    sent = send_link(identifier, url_root)
    db.session.rollback()  # read-only here: end the lookup's transaction
    return sent
