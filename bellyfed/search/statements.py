"""Search statements compiled once per *shape* and kept per process.

A search's SQL depends only on which filters are present, the sort, whether it continues from a
cursor and so on (its shape), never on the values: those are named bound parameters. So the SQL of
a shape is built and compiled by SQLAlchemy once, and every later search of that shape sends the
kept string with its own values (``exec_driver_sql``), skipping the ~1 ms of Python that building
the ``Select``, keying SQLAlchemy's compiled cache and executing through the ORM session cost.

PostgreSQL still plans each statement with its values (an unnamed statement is planned at bind,
like a literal): a rare text and a common one keep plans of their own. Server-side prepared
statements would not last anyway: psycopg deallocates them at every ROLLBACK, which ends every
read-only request.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import CursorResult
from sqlalchemy.sql import Executable

from bellyfed.extensions import db

# A few dozen shapes are common; a crude bound keeps odd combinations from growing the dict.
MAX_SHAPES = 512


@dataclass(frozen=True, slots=True)
class Compiled:
    sql: str
    constants: dict[str, object]  # the values of the anonymous parameters (literals in the SQL)


_compiled: dict[Hashable, Compiled] = {}


def compiled(
    shape: Hashable, build: Callable[[], Executable], named: Iterable[str] = ()
) -> Compiled:
    """The SQL of ``shape``, compiled from ``build()`` on the first call (per process).

    Under TESTING every call compiles anew and must match what was kept, but for the ``named``
    parameters a caller passes its own values for: a value that reached the statement as a
    literal instead of a named parameter (``queries.bound``) would be frozen into its shape for
    every later search, and the test suite's many searches catch that here.
    """
    kept = _compiled.get(shape)
    if kept is None or current_app.config.get("TESTING"):
        fresh = _compile(shape, build)
        if kept is not None and _fixed(fresh, named) != _fixed(kept, named):
            raise AssertionError(
                f"search shape {shape} compiled differently for other values: a value is not a "
                f"bound parameter ({_fixed(kept, named)[1]}, now {_fixed(fresh, named)[1]})"
            )
        kept = fresh
        if len(_compiled) >= MAX_SHAPES:
            _compiled.clear()
        _compiled[shape] = kept
    return kept


def _fixed(kept: Compiled, named: Iterable[str]) -> tuple[str, dict[str, object]]:
    """What must be the same for every search of a shape: the SQL and its constants."""
    names = set(named)
    return kept.sql, {k: v for k, v in kept.constants.items() if k not in names}


def _compile(shape: Hashable, build: Callable[[], Executable]) -> Compiled:
    statement = build().compile(dialect=db.session.get_bind().dialect)
    if "POSTCOMPILE" in statement.string:  # an expanding IN: its SQL changes with its values
        raise ValueError(f"a search statement's SQL depends on its values: {shape}")
    return Compiled(statement.string, dict(statement.params))


def execute(
    shape: Hashable, build: Callable[[], Executable], values: Mapping[str, object]
) -> CursorResult:
    """Run the statement of ``shape`` with ``values`` for its named parameters (every name the
    statement binds must be in ``values`` or a constant of ``build()``'s statement)."""
    kept = compiled(shape, build, values.keys())
    return db.session.connection().exec_driver_sql(kept.sql, {**kept.constants, **values})


def without_parallel_workers() -> None:
    """No parallel plans for the rest of this transaction (``SET LOCAL``).

    A search whose estimated cost passes parallel_setup_cost gets a Gather with two workers; on
    this class of machine starting them took 10-20 ms for statements whose own work was 1-3 ms,
    and they took cores from the other requests. One short statement per search.
    """
    db.session.connection().exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")


def clear() -> None:
    """Forget every compiled shape (tests)."""
    _compiled.clear()
