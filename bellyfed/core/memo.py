"""Whole-table aggregates kept a minute in each process.

The home page, the dish index and the API's dish-type list show counts over every restaurant and
every board (restaurants per city, diners per dish type). At 100k restaurants each is a scan of a
large table, 100-300 ms, yet the figures move slowly and nobody needs them to the second. So each
process keeps the answer for ``AGGREGATE_CACHE_SECONDS`` (60; 0 turns it off).

The rows returned are ORM objects detached from any session (expunged when loaded, so a later
commit cannot expire them): read their loaded columns, never their relationships.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TypeVar

from flask import current_app

from bellyfed.extensions import db

T = TypeVar("T")
DEFAULT_SECONDS = 60


def aggregate(load: Callable[[], list[T]]) -> Callable[[], list[T]]:
    """Serve ``load()``'s rows from this process's memory for ``AGGREGATE_CACHE_SECONDS``."""
    name = f"{load.__module__}.{load.__qualname__}"

    @functools.wraps(load)
    def cached() -> list[T]:
        seconds = current_app.config.get("AGGREGATE_CACHE_SECONDS", DEFAULT_SECONDS)
        if not seconds:
            return load()
        kept: dict[str, tuple[float, list[T]]] = current_app.extensions.setdefault("aggregates", {})
        now = time.monotonic()
        hit = kept.get(name)
        if hit is not None and hit[0] > now:
            return hit[1]
        rows = load()
        for row in rows:
            for value in row if isinstance(row, tuple) else (row,):
                if hasattr(value, "_sa_instance_state") and value in db.session:
                    db.session.expunge(value)
        kept[name] = (now + seconds, rows)  # one dict assignment: safe across threads
        return rows

    return cached
