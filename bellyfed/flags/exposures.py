"""Exposures per variant, as the analytics pipeline counted them (read by /admin pages).

``variant()`` records ``metric exposure:<experiment>:<variant>`` once per request; the flush keeps
it in the analytics table under PK ``metric#exposure:<experiment>:<variant>``, SK ``TOTAL`` and
hour buckets ``H#<YYYY-MM-DDTHH>`` (UTC, kept 120 days). They count pages shown, not people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bellyfed.dynamo import counters
from bellyfed.flags.evaluate import Experiment


def pk(experiment: str, variant: str) -> str:
    """``metric#exposure:<experiment>:<variant>``."""
    return f"metric#exposure:{experiment}:{variant}"


def totals(experiment: Experiment) -> dict[str, int]:
    """Exposures ever counted per variant (one GetItem each)."""
    return {v.name: counters.count(pk(experiment.name, v.name)) for v in experiment.variants}


@dataclass(frozen=True)
class Recent:
    """One variant's current weight and its exposures today and over the last days (UTC)."""

    name: str
    weight: int
    today: int
    days: int


def recent(experiment: Experiment, now: datetime, days: int = 7) -> list[Recent]:
    """Per variant, from its hour buckets of the last ``days`` days, today included (one Query)."""
    today = now.strftime("%Y-%m-%d")
    first = (now - timedelta(days=days - 1)).strftime("%Y-%m-%d")
    found = []
    for v in experiment.variants:
        hours = counters.buckets(pk(experiment.name, v.name), f"H#{first}T00", f"H#{today}T23")
        in_today = sum(int(item["n"]) for item in hours if item["sk"].startswith(f"H#{today}T"))
        found.append(Recent(v.name, v.weight, in_today, sum(int(item["n"]) for item in hours)))
    return found
