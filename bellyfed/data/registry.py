"""Every kind of data that can move, in which directions, and how each is assessed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bellyfed.data import preferences, preferences_back, view_history
from bellyfed.data.framework import Mover

STORES = ("postgresql", "dynamodb")

MOVES: dict[tuple[str, str, str], Callable[[], Mover]] = {
    ("view-history", "dynamodb", "postgresql"): view_history.ViewHistoryToPostgres,
    ("preferences", "postgresql", "dynamodb"): preferences.PreferencesToDynamo,
    ("preferences", "dynamodb", "postgresql"): preferences_back.PreferencesToPostgres,
}

ASSESSORS: dict[str, Callable[[], list[tuple[str, Any]]]] = {
    "view-history": view_history.assess,
    "preferences": preferences.assess,
}


class UnknownMove(ValueError):
    """A kind, or a direction for it, that no mover handles."""


def valid_moves() -> str:
    """``kind: from → to`` for every move, one per line."""
    return "\n".join(f"  {kind}: {source} → {target}" for kind, source, target in MOVES)


def mover_for(kind: str, source: str | None, target: str | None) -> Mover:
    """The mover of ``kind`` in that direction; without one, the kind's first direction."""
    directions = [(s, t) for k, s, t in MOVES if k == kind]
    if not directions:
        raise UnknownMove(f"Unknown kind {kind!r}. Valid moves:\n{valid_moves()}")
    if source is None and target is None:
        source, target = directions[0]
    elif source is None or target is None:
        raise UnknownMove("Give both --from and --to, or neither.")
    if (source, target) not in directions:
        raise UnknownMove(f"{kind} cannot move {source} → {target}. Valid moves:\n{valid_moves()}")
    return MOVES[(kind, source, target)]()
