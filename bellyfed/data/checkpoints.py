"""Checkpoints of the moves, in PostgreSQL (``data_move_checkpoints``), and a lock per move.

Why a table: a move runs as a one-off task whose disk dies with it (a file under ``.local/``
would not survive the crash it is meant for), and when PostgreSQL is the target the checkpoint
commits in the same transaction as the batch it records, so a crash can never leave one without
the other. DynamoDB targets are written first and recorded after, so a crash in between replays
one batch: harmless, the loads are idempotent (PutItem overwrites, upserts).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from bellyfed.data.models import MoveCheckpoint
from bellyfed.extensions import db


class MoveLocked(RuntimeError):
    """Another run of the same move holds its lock."""


def load(name: str) -> MoveCheckpoint | None:
    """The checkpoint of move ``name``, if it ever ran."""
    return db.session.get(MoveCheckpoint, name, populate_existing=True)


def start(name: str) -> MoveCheckpoint:
    """A fresh checkpoint for a run from the beginning (replacing any earlier one)."""
    now = datetime.now(UTC)
    checkpoint = load(name) or MoveCheckpoint(name=name)
    checkpoint.position, checkpoint.batches, checkpoint.records = None, 0, 0
    checkpoint.started_at = checkpoint.updated_at = now
    checkpoint.finished_at = None
    db.session.add(checkpoint)
    return checkpoint


def advance(checkpoint: MoveCheckpoint, position: Any, written: int) -> None:
    """Record one more batch done; the next one starts at ``position``. The caller commits."""
    checkpoint.position = position
    checkpoint.batches += 1
    checkpoint.records += written
    checkpoint.updated_at = datetime.now(UTC)


def finish(checkpoint: MoveCheckpoint) -> None:
    """Mark the move complete (a later ``--resume`` has nothing left to do)."""
    checkpoint.position = None
    checkpoint.finished_at = checkpoint.updated_at = datetime.now(UTC)


@contextmanager
def locked(name: str) -> Iterator[None]:
    """Hold a session-level advisory lock for move ``name``: two runs of one move would
    overwrite each other's checkpoint. A connection of its own, so batches can commit."""
    with db.engine.connect() as conn:
        key = select(func.hashtext(f"bellyfed.data:{name}"))
        if not conn.execute(select(func.pg_try_advisory_lock(key.scalar_subquery()))).scalar():
            raise MoveLocked(f"Another run of {name} is in progress (advisory lock held).")
        conn.commit()  # the lock outlives the transaction; don't sit idle in one
        try:
            yield
        finally:
            conn.execute(select(func.pg_advisory_unlock(key.scalar_subquery())))
            conn.commit()
