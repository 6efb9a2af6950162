"""The numbers on the operators' live dashboard, read from DynamoDB (series) and Redis (live)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import redis
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bellyfed import flags
from bellyfed.accounts.models import User
from bellyfed.analytics import keys
from bellyfed.analytics.flush import lag_seconds, leftover_batches
from bellyfed.core.vocab import CONTACT_LINKS
from bellyfed.dynamo import counters, tokens
from bellyfed.extensions import db
from bellyfed.flags import exposures
from bellyfed.flags.evaluate import Experiment
from bellyfed.restaurants.models import Restaurant

log = logging.getLogger(__name__)
RECENT_DAYS = 7


@dataclass(frozen=True)
class ExperimentResults:
    """One experiment's variants: weights and exposures. No outcome is counted per variant yet."""

    experiment: Experiment
    variants: list[exposures.Recent]

    def share(self, variant: exposures.Recent) -> float | None:
        """The variant's part of the last days' exposures (None before there are any)."""
        total = sum(v.days for v in self.variants)
        return variant.days / total if total else None

    def weight_share(self, variant: exposures.Recent) -> float:
        """The part of subjects its weight asks for."""
        total = sum(v.weight for v in self.variants)
        return variant.weight / total if total else 0.0


@dataclass
class Dashboard:
    """Everything the dashboard shows; ``problems`` lists parts that could not be read."""

    now: datetime
    views_per_minute: list[tuple[str, int]] = field(default_factory=list)
    searches_per_minute: list[tuple[str, int]] = field(default_factory=list)
    top_restaurants: list[tuple[Restaurant, int]] = field(default_factory=list)
    top_searches: list[tuple[str, int]] = field(default_factory=list)
    clicks_today: dict[str, int] = field(default_factory=dict)
    signups_today: int = 0
    logins_today: int = 0
    flush_lag: float | None = None
    buffered_events: int = 0
    leftover_batches: int = 0
    problems: list[str] = field(default_factory=list)
    experiments: list[ExperimentResults] = field(default_factory=list)
    experiment_problems: list[str] = field(default_factory=list)
    api_calls_per_minute: list[tuple[str, int]] = field(default_factory=list)
    api_endpoints: list[tuple[str, int]] = field(default_factory=list)
    api_tokens: list[tuple[str, int]] = field(default_factory=list)  # "name (@owner)", calls
    api_errors: list[tuple[str, int]] = field(default_factory=list)

    @property
    def peak_views(self) -> int:
        return max((n for _, n in self.views_per_minute), default=0)


def _per_minute(pk: str, now: datetime) -> list[tuple[str, int]]:
    """The last 60 minutes of a metric, oldest first, zeros included."""
    minutes = [keys.minute_of(now - timedelta(minutes=m)) for m in range(59, -1, -1)]
    counts = {
        item["sk"][2:]: int(item["n"])
        for item in counters.buckets(pk, f"M#{minutes[0]}", f"M#{minutes[-1]}")
    }
    return [(minute, counts.get(minute, 0)) for minute in minutes]


def _today(pk: str, now: datetime) -> int:
    day = now.strftime("%Y-%m-%d")
    return sum(int(item["n"]) for item in counters.buckets(pk, f"H#{day}T00", f"H#{day}T23"))


def build(redis_client: redis.Redis, now: datetime | None = None) -> Dashboard:
    """Read the dashboard; a store that is down blanks its part and says so."""
    now = now or datetime.now(UTC)
    board = Dashboard(now=now)
    try:
        board.views_per_minute = _per_minute("metric#views", now)
        board.searches_per_minute = _per_minute("metric#searches", now)
        board.api_calls_per_minute = _per_minute("metric#api_calls", now)
        board.clicks_today = {link: _today(f"metric#clicks:{link}", now) for link in CONTACT_LINKS}
        board.signups_today = _today("metric#signups", now)
        board.logins_today = _today("metric#logins", now)
    except (BotoCoreError, ClientError) as exc:
        log.warning("dashboard: DynamoDB unavailable: %s", exc)
        board.problems.append("DynamoDB is unreachable: series and today's totals are missing.")
    try:
        _live(board, redis_client, now)
    except redis.RedisError as exc:
        log.warning("dashboard: Redis unavailable: %s", exc)
        board.problems.append("Redis is unreachable: live figures and the buffer are missing.")
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("dashboard: PostgreSQL unavailable: %s", exc)
        board.problems.append("PostgreSQL is unreachable: restaurant names are missing.")
    _experiments(board, now)
    return board


def _experiments(board: Dashboard, now: datetime) -> None:
    """Experiments as the app serves them (its flags cache: no Scan per poll), running first."""
    served = flags.cache().fresh()
    if not served.healthy:
        board.experiment_problems.append(
            "The flags table can't be read right now: experiments are as last read, if at all."
        )
    running_first = sorted(served.experiments.values(), key=lambda e: (not e.enabled, e.name))
    try:
        board.experiments = [
            ExperimentResults(e, exposures.recent(e, now, RECENT_DAYS))
            for e in running_first
            if e.variants
        ]
    except (BotoCoreError, ClientError) as exc:
        log.warning("dashboard: exposure counters unavailable: %s", exc)
        board.experiment_problems.append("Exposure counters can't be read right now.")


def _live(board: Dashboard, redis_client: redis.Redis, now: datetime) -> None:
    hour = now.strftime("%Y-%m-%dT%H")
    top = redis_client.zrevrange(f"{keys.TOP}views:{hour}", 0, 9, withscores=True)
    ids = [int(member) for member, _ in top]
    places = {r.id: r for r in db.session.scalars(select(Restaurant).where(Restaurant.id.in_(ids)))}
    board.top_restaurants = [
        (places[i], int(score)) for (_, score), i in zip(top, ids, strict=True) if i in places
    ]
    searches = redis_client.zrevrange(f"{keys.TOP}searches:{now:%Y-%m-%d}", 0, 9, withscores=True)
    board.top_searches = [(query.decode(), int(score)) for query, score in searches]
    _api(board, redis_client, now)
    board.flush_lag = lag_seconds(redis_client, now)
    # HLEN is O(1): the number of distinct counters waiting (not events), plus unfinished batches.
    board.buffered_events = int(redis_client.hlen(keys.BUFFER))
    board.leftover_batches = len(leftover_batches(redis_client))


def _api(board: Dashboard, redis_client: redis.Redis, now: datetime) -> None:
    """Today's API calls by endpoint, by token (named, with its owner) and the errors."""
    day = f"{now:%Y-%m-%d}"

    def top(kind: str) -> list[tuple[str, int]]:
        rows = redis_client.zrevrange(f"{keys.TOP}{kind}:{day}", 0, 9, withscores=True)
        return [(member.decode(), int(score)) for member, score in rows]

    board.api_endpoints = [(e.removeprefix("api_"), n) for e, n in top("api")]
    board.api_errors = [(e.removeprefix("api_"), n) for e, n in top("api_error")]
    board.api_tokens = [(_token_label(digest), n) for digest, n in top("api_token")]


def _token_label(digest: str) -> str:
    """ "laptop script (bf_Ab3d…, @siti)", or the digest's start once the token is gone."""
    try:
        item = tokens.table(tokens.TABLE).get_item(Key=tokens.key(digest)).get("Item")
    except (BotoCoreError, ClientError):
        item = None
    if not item:
        return f"revoked or expired token {digest[:8]}…"
    user = db.session.get(User, int(item["user_id"]))
    owner = f", @{user.username}" if user else ""
    return f"{item.get('name', '')} ({item.get('hint', '')}…{owner})"
