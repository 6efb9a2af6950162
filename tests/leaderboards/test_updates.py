"""Board recomputes after a ranking change: queued once it commits, debounced, run by the worker."""

import json
import logging

import redis

from bellyfed.leaderboards import updates
from bellyfed.rankings import services
from tests.conftest import free_port
from tests.factories import UserFactory
from tests.leaderboards.boards import (
    RECOMPUTE_TASK,
    dish,
    entries,
    queued_boards,
    run_queued_recomputes,
    take_the_broker_down,
)


def pending(redis_client, board) -> int | None:
    """Seconds left on the board's pending mark, or None without one."""
    ttl = redis_client.ttl(updates.pending_key(board))
    return None if ttl < 0 else ttl


def test_the_web_queues_the_task_the_worker_registers(app):
    assert updates.RECOMPUTE_TASK == RECOMPUTE_TASK
    assert RECOMPUTE_TASK in app.extensions["celery"].tasks


def test_boards_are_queued_only_once_the_change_commits(db_session, redis_client, kl, penang):
    boards = {(7, kl.id), (7, penang.id)}
    updates.recompute_after_commit(boards)
    assert queued_boards(redis_client) == []

    db_session.commit()

    assert queued_boards(redis_client) == sorted(boards)
    for raw in redis_client.lrange("celery", 0, -1):  # run later, not at once: the debounce
        assert json.loads(raw)["headers"]["eta"] is not None
    assert all(0 < pending(redis_client, board) <= updates.PENDING_SECONDS for board in boards)


def test_a_rolled_back_change_queues_nothing(db_session, redis_client, kl):
    updates.recompute_after_commit([(7, kl.id)])
    db_session.rollback()
    db_session.commit()
    assert queued_boards(redis_client) == []


def test_a_burst_of_changes_to_one_board_runs_one_recompute(
    app, db_session, redis_client, kl, nasi_lemak
):
    dishes = [dish(nasi_lemak, kl) for _ in range(3)]
    board = (nasi_lemak.id, kl.id)
    for ranked in [*dishes, dishes[0]]:
        services.place(UserFactory().id, ranked, 1)
        db_session.commit()
    assert queued_boards(redis_client) == [board]

    assert run_queued_recomputes(app, redis_client) == [board]

    assert [row[:3] for row in entries(nasi_lemak, kl)] == [
        (dishes[0].id, 1, 2), (dishes[1].id, 2, 1), (dishes[2].id, 3, 1),
    ]  # fmt: skip
    assert pending(redis_client, board) is None
    services.place(UserFactory().id, dishes[2], 1)  # after the run: queued again
    db_session.commit()
    assert queued_boards(redis_client) == [board]


def test_a_change_committed_during_the_recompute_queues_another_run(
    app, db_session, redis_client, kl, nasi_lemak, monkeypatch
):
    board = (nasi_lemak.id, kl.id)
    services.place(UserFactory().id, dish(nasi_lemak, kl), 1)
    db_session.commit()
    real_recompute, queued_meanwhile = updates.recompute_board, []

    def recompute_while_a_change_commits(dish_type_id, city_id):
        # What another change's commit does at this moment: its run must not be swallowed.
        queued_meanwhile.append(updates.queue_recomputes([board]))
        return real_recompute(dish_type_id, city_id)

    monkeypatch.setattr(updates, "recompute_board", recompute_while_a_change_commits)
    assert run_queued_recomputes(app, redis_client) == [board]

    assert queued_meanwhile == [1]
    assert queued_boards(redis_client) == [board]


def test_without_redis_each_change_queues_its_board_undebounced(
    app, db_session, redis_client, kl, monkeypatch, caplog
):
    dead = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    monkeypatch.setitem(app.extensions, "redis", dead)
    with caplog.at_level(logging.WARNING, logger=updates.__name__):
        assert updates.queue_recomputes([(7, kl.id)]) == 1
        assert updates.queue_recomputes([(7, kl.id)]) == 1

    assert queued_boards(redis_client) == [(7, kl.id)] * 2
    assert "no debounce for board" in caplog.text


def test_with_the_broker_down_nothing_is_queued_and_the_next_change_tries_again(
    app, db_session, redis_client, kl, penang, caplog, monkeypatch
):
    boards = [(7, kl.id), (7, penang.id)]
    take_the_broker_down(app, monkeypatch)
    with caplog.at_level(logging.ERROR, logger=updates.__name__):
        assert updates.queue_recomputes(boards) == 0

    [error] = [r for r in caplog.records if r.name == updates.__name__]
    assert "is the broker down?" in error.message
    assert "periodic recompute will catch up" in error.message
    assert [pending(redis_client, board) for board in boards] == [None, None]
    monkeypatch.undo()  # the broker is back
    assert updates.queue_recomputes(boards) == 2
    assert queued_boards(redis_client) == boards
