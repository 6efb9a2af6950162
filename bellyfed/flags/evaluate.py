"""What a flag or an experiment says for one subject: pure functions over plain data.

A subject is a signed-in user (their id, ``"42"``) or an anonymous visitor (``"a"`` and a
stable hash of address and agent, see ``analytics.events.visitor_id``). Rollouts and
assignments hash the subject with the flag's or experiment's name, so a subject keeps its
answer across requests, processes and deploys (sha256, never Python's seeded ``hash()``), and
different flags roll out to different subjects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

BUCKETS = 10_000  # rollout resolution: 0.01%


@dataclass(frozen=True)
class Flag:
    """A feature flag as stored; ``default`` is what subjects the rules don't select get."""

    name: str
    enabled: bool = False
    rollout: int = 0  # percent of subjects, 0-100
    users: frozenset[int] = frozenset()
    roles: frozenset[str] = frozenset()
    cities: frozenset[str] = frozenset()
    default: bool = False
    description: str = ""
    version: int = 0
    updated_by: str = ""
    updated_at: str = ""


@dataclass(frozen=True)
class Variant:
    """One arm of an experiment and its relative weight."""

    name: str
    weight: int


@dataclass(frozen=True)
class Experiment:
    """An A/B test: named variants with integer weights; the first variant is the control."""

    name: str
    variants: tuple[Variant, ...] = field(default_factory=tuple)
    enabled: bool = False
    description: str = ""
    version: int = 0
    updated_by: str = ""
    updated_at: str = ""

    @property
    def control(self) -> str:
        """The variant everyone sees while the experiment is off."""
        return self.variants[0].name


def stable_hash(name: str, subject_id: str) -> int:
    """A 64-bit number for ``name:subject``, the same in every process and on every machine."""
    digest = hashlib.sha256(f"{name}:{subject_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def in_rollout(name: str, subject_id: str, percent: int) -> bool:
    """Whether the subject falls within the first ``percent`` of the flag's buckets."""
    return stable_hash(name, subject_id) % BUCKETS < percent * (BUCKETS // 100)


def is_enabled(flag: Flag, subject_id: str, role: str | None, city: str | None) -> bool:
    """Off: False. Targeted user, role or city: True. Else the rollout, else the flag's default."""
    if not flag.enabled:
        return False
    if subject_id.isdigit() and int(subject_id) in flag.users:
        return True
    if (role is not None and role in flag.roles) or (city is not None and city in flag.cities):
        return True
    return in_rollout(flag.name, subject_id, flag.rollout) or flag.default


def assign(experiment: Experiment, subject_id: str) -> str:
    """The subject's variant: its stable hash placed on the cumulative weights."""
    total = sum(v.weight for v in experiment.variants)
    if not experiment.enabled or total <= 0:
        return experiment.control
    point = stable_hash(experiment.name, subject_id) % total
    for variant in experiment.variants:
        if point < variant.weight:
            return variant.name
        point -= variant.weight
    raise AssertionError("unreachable: the point lies below the total weight")


def valid_weights(weights: Iterable[int]) -> bool:
    """Weights an experiment can use: none negative, at least one positive."""
    weights = list(weights)
    return bool(weights) and all(w >= 0 for w in weights) and sum(weights) > 0
