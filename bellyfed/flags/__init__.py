"""Feature flags and A/B tests for the running app.

Every flag and experiment is read in one DynamoDB call per process per ``FLAGS_CACHE_SECONDS``
(default 30) and kept in memory: no request waits on DynamoDB. When the table can't be read the
last good copy keeps being served (an operator's switch stays switched through an outage); with
no copy yet, each flag answers its declared default and each experiment its control, so a page
never fails for want of a flag. Templates call ``flag("name")`` and ``variant("experiment")``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, current_app, g, has_request_context
from flask_login import current_user

from bellyfed.analytics.events import record, visitor_id
from bellyfed.dynamo import flags as storage
from bellyfed.flags.evaluate import Experiment, Flag, assign, is_enabled

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Declared:
    """A flag the code uses, and what it answers until an operator stores a setting."""

    default: bool
    description: str


@dataclass(frozen=True)
class DeclaredExperiment:
    """An experiment the code uses; the first variant is the control, served while it is off."""

    variants: tuple[str, ...]
    description: str


DECLARED = {
    "leaderboard-compact-layout": Declared(
        default=False, description="Tighter rows on city leaderboards: more dishes per screen."
    ),
}
DECLARED_EXPERIMENTS = {
    "home-search-placeholder": DeclaredExperiment(
        variants=("dish", "craving"),
        description="The home search box hint: dish names (control) or a craving prompt.",
    ),
}


@dataclass
class FlagCache:
    """This process's copy of the flags table, re-read when older than ``ttl`` seconds."""

    ttl: float
    flags: dict[str, Flag] = field(default_factory=dict)
    experiments: dict[str, Experiment] = field(default_factory=dict)
    read_at: float | None = None
    healthy: bool = True
    reported: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fresh(self) -> FlagCache:
        """Itself, re-read first if stale (one caller re-reads; the others wait for it)."""
        if self.read_at is not None and time.monotonic() - self.read_at < self.ttl:
            return self
        with self.lock:
            if self.read_at is None or time.monotonic() - self.read_at >= self.ttl:
                self._refresh()
        return self

    def _refresh(self) -> None:
        try:
            self.flags, self.experiments = storage.list_all()
        except (BotoCoreError, ClientError) as exc:
            if self.healthy:
                log.warning(
                    "flags: DynamoDB unreadable, serving the last copy or defaults: %s", exc
                )
            self.healthy = False
        else:
            if not self.healthy:
                log.warning("flags: DynamoDB readable again")
            self.healthy = True
        # A failed read also waits a full period, so an outage costs one call per period too.
        self.read_at = time.monotonic()

    def report_once(self, message: str, name: str) -> None:
        """Log a missing flag or experiment once per process, not on every request."""
        if name not in self.reported:
            self.reported.add(name)
            log.warning(message, name)


def cache() -> FlagCache:
    """The app's flag cache, made on first use."""
    found = current_app.extensions.get("flags")
    if found is None:
        found = FlagCache(ttl=current_app.config.get("FLAGS_CACHE_SECONDS", 30))
        current_app.extensions["flags"] = found
    return found


def reset_cache() -> None:
    """Forget this process's copy (after an operator's change, so they see it at once)."""
    current_app.extensions.pop("flags", None)


def _subject() -> tuple[str, str | None]:
    """(subject id, role) of whoever this request is for."""
    if not has_request_context():
        return "", None
    if current_user.is_authenticated:
        return str(current_user.id), current_user.role
    return visitor_id(), None


def _home_city() -> str | None:
    """The signed-in user's home city slug (loaded only for flags that target cities)."""
    if has_request_context() and current_user.is_authenticated and current_user.home_city_id:
        return current_user.home_city.slug
    return None


def flag_on(name: str) -> bool:
    """Whether flag ``name`` is on for the current user or visitor (decided once per request)."""
    decided = g.setdefault("flags_decided", {})
    if name not in decided:
        flags = cache().fresh()
        stored = flags.flags.get(name)
        if stored is not None:
            city = _home_city() if stored.cities else None
            decided[name] = is_enabled(stored, *_subject(), city)
            if stored.enabled and not stored.default and 0 < stored.rollout < 100:
                g.page_varies = True  # a visitor's own answer: no shared page (core/pagecache.py)
        elif name in DECLARED:
            if flags.healthy:
                flags.report_once("flags: %s is not stored yet, using its declared default", name)
            decided[name] = DECLARED[name].default
        else:
            flags.report_once("flags: %s is neither stored nor declared: off", name)
            decided[name] = False
    return decided[name]


def variant(name: str) -> str:
    """The current subject's variant of experiment ``name``; counts one exposure per request."""
    chosen = g.setdefault("variants_chosen", {})
    if name not in chosen:
        experiments = cache().fresh()
        stored = experiments.experiments.get(name)
        if stored is not None and stored.variants:
            chosen[name] = assign(stored, _subject()[0])
            if stored.enabled and sum(v.weight > 0 for v in stored.variants) > 1:
                g.page_varies = True  # each visitor their own variant and exposure
            if stored.enabled:
                record("metric", f"exposure:{name}:{chosen[name]}")
        else:
            declared = DECLARED_EXPERIMENTS.get(name)
            if experiments.healthy:
                experiments.report_once("flags: experiment %s is not stored: control", name)
            chosen[name] = declared.variants[0] if declared else ""
    return chosen[name]


def init_app(app: Flask) -> None:
    """Give templates ``flag("name")`` and ``variant("experiment")``."""
    app.add_template_global(flag_on, "flag")
    app.add_template_global(variant, "variant")
