"""Boards follow ranking changes through the worker: queued after commit, debounced in Redis.

A ranking change names its boards (``recompute_after_commit``). Once its transaction commits, each
board that is not already pending gets a key in Redis (``SET NX`` with a TTL) and one task, run
``DEBOUNCE_SECONDS`` later; changes to that board meanwhile find the key and queue nothing, so a
burst of changes costs one recompute every few seconds. The task deletes the key *before* it
computes: a change that commits while it runs queues the next run, so no change is left out.

If Redis or the broker is down the ranking change still stands (it has committed): the failure is
logged, and the board's next change or the periodic full recompute
(``worker.tasks.recompute_leaderboards``) brings the board up to date.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flask import current_app, has_app_context
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

from bellyfed.extensions import db
from bellyfed.leaderboards.compute import Board, recompute_board
from bellyfed.redis_client import get_redis

log = logging.getLogger(__name__)

RECOMPUTE_TASK = "worker.tasks.recompute_leaderboard"  # by name: the web need not import worker/
DEBOUNCE_SECONDS = 2  # a board shows a change this long after it commits (plus the recompute)
# Outlives a debounce and an ordinary queue wait. Should a task be lost, a change after this long
# queues the board again (the periodic recompute covers it meanwhile).
PENDING_SECONDS = 60
# The request has committed and waits on this: try briefly, then leave the board to beat.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
BOARDS_TO_QUEUE = "leaderboards.boards_to_queue"  # in Session.info until the commit


def pending_key(board: Board) -> str:
    """``leaderboard:pending:<dish type id>:<city id>``: that board's recompute is queued."""
    return "leaderboard:pending:{}:{}".format(*board)


def recompute_after_commit(boards: Iterable[Board]) -> None:
    """Queue these boards' recomputes once the current transaction commits."""
    db.session.info.setdefault(BOARDS_TO_QUEUE, set()).update(boards)


def queue_recomputes(boards: Iterable[Board]) -> int:
    """Queue a debounced recompute of each board not already pending; returns how many queued."""
    redis, ordered = get_redis(), sorted(set(boards))
    queued = 0
    for n, board in enumerate(ordered):
        if not _mark_pending(redis, board):
            continue
        try:
            current_app.extensions["celery"].send_task(
                RECOMPUTE_TASK, args=list(board), countdown=DEBOUNCE_SECONDS,
                retry_policy=PUBLISH_RETRY,
            )  # fmt: skip
        except Exception as exc:  # the change has committed: never a 500 for it
            _clear_pending(redis, board)  # so the next change tries again
            log.error(
                "leaderboards: could not queue the recompute of boards %s (is the broker"
                " down?): %s; the periodic recompute will catch up", ordered[n:], exc,
            )  # fmt: skip
            break  # one wait on a dead broker per request, not one per board
        queued += 1
    return queued


def recompute_queued(board: Board) -> int:
    """The task's work: clear the board's pending mark, then recompute it and commit."""
    get_redis().delete(pending_key(board))  # first: a change from now on queues another run
    entries = recompute_board(*board)
    db.session.commit()
    return entries


def _mark_pending(redis: Redis, board: Board) -> bool:
    """Whether this call made the board pending, and so must queue its recompute."""
    try:
        return bool(redis.set(pending_key(board), 1, nx=True, ex=PENDING_SECONDS))
    except RedisError as exc:
        # Queue it anyway: a recompute too many is harmless, one too few leaves the board stale.
        log.warning("leaderboards: no debounce for board %s, Redis failed: %s", board, exc)
        return True


def _clear_pending(redis: Redis, board: Board) -> None:
    try:
        redis.delete(pending_key(board))
    except RedisError as exc:  # it expires by itself after PENDING_SECONDS
        log.warning("leaderboards: board %s stays marked pending, Redis failed: %s", board, exc)


@event.listens_for(Session, "after_commit")
def _queue_committed(session: Session) -> None:
    boards = session.info.pop(BOARDS_TO_QUEUE, None)
    if not boards:
        return
    if not has_app_context():
        log.warning("leaderboards: boards %s not queued (no app); the periodic recompute will "
                    "catch up", sorted(boards))  # fmt: skip
        return
    queue_recomputes(boards)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(BOARDS_TO_QUEUE, None)
