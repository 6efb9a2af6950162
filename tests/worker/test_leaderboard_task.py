"""worker.tasks.recompute_leaderboard: one board, idempotent, retried with backoff."""

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bellyfed.leaderboards import updates
from tests.factories import CityFactory, DishTypeFactory
from tests.leaderboards.boards import dish, entries, rank
from worker import tasks


def run(app, dish_type_id: int, city_id: int):
    """Run the task as this app's worker would (the proxy would use the latest app made)."""
    return (
        app.extensions["celery"]
        .tasks[tasks.recompute_leaderboard.name]
        .apply(args=[dish_type_id, city_id])
    )


def test_the_task_recomputes_its_board_and_running_it_again_changes_nothing(
    app, db_session, redis_client
):
    city, kind = CityFactory(), DishTypeFactory()
    first, second = dish(kind, city), dish(kind, city)
    rank(first, 2)
    rank(second, 1, 1)
    redis_client.set(updates.pending_key((kind.id, city.id)), 1)

    result = run(app, kind.id, city.id)

    assert result.successful(), result.traceback
    assert result.result == 2
    assert entries(kind, city) == [(second.id, 1, 2, 10, 2), (first.id, 2, 1, 4, 0)]
    assert redis_client.get(updates.pending_key((kind.id, city.id))) is None
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    db_session.execute(text("UPDATE leaderboard_entries SET computed_at = :t"), {"t": long_ago})

    again = run(app, kind.id, city.id)

    assert again.successful(), again.traceback
    assert entries(kind, city) == [(second.id, 1, 2, 10, 2), (first.id, 2, 1, 4, 0)]
    stamps = db_session.execute(text("SELECT DISTINCT computed_at FROM leaderboard_entries"))
    assert stamps.scalars().all() == [long_ago]  # nothing rewritten


def test_a_failed_recompute_is_retried_with_backoff(app, db_session, redis_client, monkeypatch):
    city, kind = CityFactory(), DishTypeFactory()
    ranked = dish(kind, city)
    rank(ranked, 1)
    real_recompute, attempts = updates.recompute_board, []

    def fails_once(dish_type_id, city_id):
        attempts.append((dish_type_id, city_id))
        if len(attempts) == 1:  # e.g. queued behind a full recompute past the statement timeout
            raise OperationalError("LOCK TABLE", {}, Exception("canceling statement"))
        return real_recompute(dish_type_id, city_id)

    monkeypatch.setattr(updates, "recompute_board", fails_once)
    result = run(app, kind.id, city.id)

    assert result.successful(), result.traceback
    assert attempts == [(kind.id, city.id)] * 2
    assert entries(kind, city) == [(ranked.id, 1, 1, 5, 1)]
    task = app.extensions["celery"].tasks[tasks.recompute_leaderboard.name]
    assert issubclass(OperationalError, task.autoretry_for)
    assert (task.max_retries, task.retry_backoff) == (
        tasks.RETRY["max_retries"], tasks.RETRY["retry_backoff"],
    )  # fmt: skip
