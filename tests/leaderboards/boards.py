"""Building leaderboards from real rows: dishes in cities, and diners who rank them; and running
the board recomputes that ranking changes queue, as the worker would."""

from sqlalchemy import select

from bellyfed.extensions import db
from bellyfed.leaderboards.models import LeaderboardEntry
from tests.conftest import free_port
from tests.core.test_mail import queued
from tests.factories import DishFactory, RankingFactory, RestaurantFactory, UserFactory
from worker.tasks import recompute_leaderboard

RECOMPUTE_TASK = recompute_leaderboard.name  # importing it registers the task with every app


def queued_boards(redis_client) -> list[tuple[int, int]]:
    """The boards whose recompute waits in the broker's queue, oldest first."""
    return [tuple(args) for name, args in queued(redis_client)[::-1] if name == RECOMPUTE_TASK]


def run_queued_recomputes(app, redis_client) -> list[tuple[int, int]]:
    """What a worker does next: take the queued board recomputes and run each (in an app context)."""
    boards = queued_boards(redis_client)
    redis_client.delete("celery")  # taken off the queue, as a worker would
    task = app.extensions["celery"].tasks[RECOMPUTE_TASK]
    for board in boards:
        result = task.apply(args=list(board))
        assert result.successful(), result.traceback
    return boards


def take_the_broker_down(app, monkeypatch) -> None:
    """A producer pool made afresh reaches for a broker nobody listens on (undone afterwards)."""
    celery = app.extensions["celery"]
    monkeypatch.setitem(celery.conf, "broker_url", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setattr(celery.amqp, "_producer_pool", None)


def dish(dish_type, city, restaurant=None, **fields):
    """A dish of ``dish_type`` at ``restaurant``, or at a new restaurant in ``city``."""
    restaurant = restaurant or RestaurantFactory(city=city)
    return DishFactory(dish_type=dish_type, restaurant=restaurant, **fields)


def rank(dish, *positions: int) -> None:
    """One new diner per position, each putting ``dish`` at that position."""
    for position in positions:
        RankingFactory(user_id=UserFactory().id, dish_id=dish.id, position=position)


def top5(*dishes) -> None:
    """One new diner whose top-5 is these dishes, in this order (#1 first)."""
    user_id = UserFactory().id
    for position, ranked in enumerate(dishes, start=1):
        RankingFactory(user_id=user_id, dish_id=ranked.id, position=position)


def entries(dish_type=None, city=None) -> list[tuple]:
    """(dish id, rank, rankers, points, first places) of a board, or of every board, in order."""
    query = select(
        LeaderboardEntry.dish_type_id,
        LeaderboardEntry.city_id,
        LeaderboardEntry.dish_id,
        LeaderboardEntry.rank,
        LeaderboardEntry.rankers,
        LeaderboardEntry.points,
        LeaderboardEntry.first_places,
        LeaderboardEntry.score,
    ).order_by(LeaderboardEntry.dish_type_id, LeaderboardEntry.city_id, LeaderboardEntry.rank)
    if dish_type is not None:
        query = query.where(
            LeaderboardEntry.dish_type_id == dish_type.id, LeaderboardEntry.city_id == city.id
        )
        return [tuple(row[2:7]) for row in db.session.execute(query)]
    return [tuple(row) for row in db.session.execute(query)]
